import { randomBytes } from 'node:crypto';
import { ProtectionProfileAeadAes128Gcm, RtpHeader, RtpPacket, SrtpSession } from 'werift';
import { readRtpHeader, writeRtpHeader } from './rtp-packet';
import { GCM_TAG_BYTES, SrtpGcm } from './srtp-gcm';

/** A sender and a receiver session as DTLS would give them: one's local keys are the other's remote ones. */
function sessions() {
  const keys = { localMasterKey: randomBytes(16), localMasterSalt: randomBytes(12), remoteMasterKey: randomBytes(16), remoteMasterSalt: randomBytes(12) };
  const sender = new SrtpSession({ keys, profile: ProtectionProfileAeadAes128Gcm });
  const receiver = new SrtpSession({
    keys: { localMasterKey: keys.remoteMasterKey, localMasterSalt: keys.remoteMasterSalt, remoteMasterKey: keys.localMasterKey, remoteMasterSalt: keys.localMasterSalt },
    profile: ProtectionProfileAeadAes128Gcm,
  });
  const { srtpSessionKey, srtpSessionSalt } = sender.localContext;
  const { srtpSessionKey: remoteKey, srtpSessionSalt: remoteSalt } = receiver.remoteContext;
  return { sender, receiver, encryptor: new SrtpGcm(srtpSessionKey, srtpSessionSalt), checker: new SrtpGcm(remoteKey, remoteSalt) };
}

const fields = (sequenceNumber: number) => ({ payloadType: 101, ssrc: 0xdead_beef, sequenceNumber, timestamp: 0xffff_fff0, marker: true });

describe('SRTP AES-GCM', () => {
  it('makes the bytes werift would, which a receiver decrypts and authenticates', () => {
    const { sender, receiver, encryptor } = sessions();
    const payload = randomBytes(1_000);
    const datagram = Buffer.concat(encryptor.encrypt(writeRtpHeader(fields(7)), payload));
    const werifts = sender.encrypt(payload, new RtpHeader(fields(7)));
    expect(datagram.equals(werifts)).toBe(true);
    const packet = RtpPacket.deSerialize(receiver.decrypt(datagram));
    expect(packet.payload.equals(payload)).toBe(true);
    expect(packet.header).toMatchObject({ sequenceNumber: 7, ssrc: 0xdead_beef, timestamp: 0xffff_fff0, marker: true, payloadType: 101 });
  });

  it('carries the audio level extension the SFU reads', () => {
    const { receiver, encryptor } = sessions();
    const header = writeRtpHeader({ ...fields(1), oneByteExtension: [1, 0x80 | 30] });
    const packet = RtpPacket.deSerialize(receiver.decrypt(Buffer.concat(encryptor.encrypt(header, randomBytes(80)))));
    expect(packet.header.extensions).toEqual([{ id: 1, payload: Buffer.from([0x80 | 30]) }]);
    expect(readRtpHeader(Buffer.concat([header, randomBytes(80 + GCM_TAG_BYTES)]), GCM_TAG_BYTES)?.payloadBytes).toBe(80);
  });

  it('counts sequence number wraps, also for a retransmission from before the wrap', () => {
    const { receiver, encryptor } = sessions();
    const send = (sequenceNumber: number) => Buffer.concat(encryptor.encrypt(writeRtpHeader(fields(sequenceNumber)), Buffer.from([sequenceNumber & 0xff])));
    const sequence = [65_533, 65_534, 65_535, 0, 1, 65_534, 2];
    const datagrams = sequence.map(send);
    // The receiver learns the rollover counter from the order it sees; a wrong counter fails authentication.
    for (const [i, datagram] of datagrams.entries()) expect(RtpPacket.deSerialize(receiver.decrypt(datagram)).header.sequenceNumber).toBe(sequence[i]);
  });

  it('is refused by a receiver when a byte changes on the way', () => {
    const { receiver, encryptor, checker } = sessions();
    const datagram = Buffer.concat(encryptor.encrypt(writeRtpHeader(fields(3)), randomBytes(100)));
    expect(checker.authenticates(datagram)).toBe(true);
    datagram[20] = datagram[20]! ^ 1;
    expect(() => receiver.decrypt(datagram)).toThrow();
    expect(checker.authenticates(datagram)).toBe(false);
  });

  it('authenticates a sample of what werift encrypts, every 100th packet across a sequence number wrap', () => {
    const { sender, checker } = sessions();
    const payload = randomBytes(500);
    const checked: boolean[] = [];
    for (let i = 0; i < 70_000; i++) {
      const sequenceNumber = (60_000 + i) & 0xffff;
      if (i % 100 !== 0) continue;
      checked.push(checker.authenticates(sender.encrypt(payload, new RtpHeader({ ...fields(sequenceNumber), extensions: [{ id: 1, payload: Buffer.from([5]) }] }))));
    }
    expect(checked).toHaveLength(700);
    expect(checked.every(Boolean)).toBe(true);
  });
});
