import { Permission } from '@concord/protocol';
import type { ChannelView } from '@concord/protocol';
import { Gear, Hash, SpeakerIcon } from '../ui/icons';
import { useServices } from './context';

export function ChannelHeader({ channel }: { channel: ChannelView }) {
  const { store, openDialog } = useServices();
  const canEdit = store.can(channel.serverId, Permission.MANAGE_CHANNELS, channel.id);
  return (
    <div className="channel-header">
      <span className="channel-icon" aria-hidden="true">
        {channel.kind === 'voice' ? <SpeakerIcon size={22} /> : <Hash size={22} />}
      </span>
      <h1 className="main-title ellipsis" data-testid="channel-title">
        {channel.name}
      </h1>
      {channel.topic && (
        <p className="topic ellipsis" title={channel.topic}>
          {channel.topic}
        </p>
      )}
      {canEdit && (
        <button className="icon-button header-gear" aria-label={`Edit channel ${channel.name}`} onClick={() => openDialog({ kind: 'channel-settings', channelId: channel.id })}>
          <Gear size={18} />
        </button>
      )}
    </div>
  );
}
