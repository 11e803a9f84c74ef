import type { PermissionName } from '@concord/protocol';

export interface PermissionInfo {
  name: PermissionName;
  label: string;
  description: string;
}

/** Every permission in words, in the groups Discord shows them in. `channel`: also set per channel. */
export const PERMISSION_GROUPS: { title: string; channel: boolean; permissions: PermissionInfo[] }[] = [
  {
    title: 'General',
    channel: true,
    permissions: [
      { name: 'VIEW_CHANNEL', label: 'View channels', description: 'See channels (and read their messages, with history).' },
      { name: 'MANAGE_CHANNELS', label: 'Manage channels', description: 'Create, edit, reorder and delete channels.' },
      { name: 'MANAGE_ROLES', label: 'Manage roles', description: 'Create and edit roles below their own, and channel permissions.' },
      { name: 'CREATE_INVITE', label: 'Create invite', description: 'Invite new people to the server.' },
    ],
  },
  {
    title: 'Server',
    channel: false,
    permissions: [
      { name: 'MANAGE_SERVER', label: 'Manage server', description: 'Change the server’s name and icon.' },
      { name: 'KICK_MEMBERS', label: 'Kick members', description: 'Remove members below them; they can come back with an invite.' },
      { name: 'BAN_MEMBERS', label: 'Ban members', description: 'Remove members below them for good.' },
      { name: 'ADMINISTRATOR', label: 'Administrator', description: 'Every permission, in every channel. Grant with care.' },
    ],
  },
  {
    title: 'Text',
    channel: true,
    permissions: [
      { name: 'SEND_MESSAGES', label: 'Send messages', description: 'Write in text channels.' },
      { name: 'READ_MESSAGE_HISTORY', label: 'Read message history', description: 'Read what was written before they came.' },
      { name: 'ADD_REACTIONS', label: 'Add reactions', description: 'React to messages with emoji.' },
      { name: 'MENTION_EVERYONE', label: 'Mention @everyone', description: 'Notify everyone in the channel.' },
      { name: 'MANAGE_MESSAGES', label: 'Manage messages', description: 'Delete other members’ messages and reactions.' },
    ],
  },
  {
    title: 'Voice',
    channel: true,
    permissions: [
      { name: 'CONNECT', label: 'Connect', description: 'Join voice channels.' },
      { name: 'SPEAK', label: 'Speak', description: 'Talk in voice channels.' },
      { name: 'VIDEO', label: 'Video', description: 'Send video: their camera, and their screen where they may also share it.' },
      { name: 'STREAM', label: 'Share screen', description: 'Share a screen, window or tab (also needs Video; its sound also needs Speak).' },
      { name: 'MUTE_MEMBERS', label: 'Mute members', description: 'Mute others in voice channels.' },
      { name: 'DEAFEN_MEMBERS', label: 'Deafen members', description: 'Deafen others in voice channels.' },
      { name: 'MOVE_MEMBERS', label: 'Move members', description: 'Move others between voice channels.' },
    ],
  },
];
