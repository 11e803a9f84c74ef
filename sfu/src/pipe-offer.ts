import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ProtocolError, type PipeEndpoint, type PipeOffer } from '@concord/protocol';

/** How old an offer may be, either way (clock skew between nodes included). */
const OFFER_LIFETIME_MS = 30_000;

type Unsigned = Omit<PipeOffer, 'mac'>;

/**
 * Signs and checks the offers nodes exchange to pipe a room's media to each other. The control
 * channel is authenticated with the same secret; the offer is signed as well because it makes the
 * receiver send media to an address named inside it: it must come from a node of this deployment,
 * be meant for this node, and count once (a recorded offer replayed later is refused).
 */
export class PipeOffers {
  readonly #secret: string;
  readonly #nodeId: string;
  readonly #now: () => number;
  /** Nonces seen, with when they stop mattering (their offer is too old by then anyway). */
  readonly #seen = new Map<string, number>();

  constructor(secret: string, nodeId: string, now: () => number = Date.now) {
    this.#secret = secret;
    this.#nodeId = nodeId;
    this.#now = now;
  }

  sign(roomId: string, toNodeId: string, endpoint: PipeEndpoint): PipeOffer {
    const offer: Unsigned = { roomId, fromNodeId: this.#nodeId, toNodeId, endpoint, issuedAt: this.#now(), nonce: randomBytes(16).toString('hex') };
    return { ...offer, mac: this.#mac(offer) };
  }

  /** Throws FORBIDDEN unless the offer is genuine, for this node, fresh and new. */
  check(offer: PipeOffer): void {
    const { mac, ...unsigned } = offer;
    const expected = Buffer.from(this.#mac(unsigned), 'hex');
    const given = Buffer.from(mac, 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw refused('its signature is wrong');
    if (offer.toNodeId !== this.#nodeId) throw refused('it is for another node');
    const now = this.#now();
    if (Math.abs(now - offer.issuedAt) > OFFER_LIFETIME_MS) throw refused('it is too old');
    for (const [nonce, until] of this.#seen) if (until < now) this.#seen.delete(nonce);
    if (this.#seen.has(offer.nonce)) throw refused('it was used before');
    this.#seen.set(offer.nonce, offer.issuedAt + OFFER_LIFETIME_MS);
  }

  /** Over a canonical serialisation: fixed field order, the endpoint's fields spelled out. */
  #mac(offer: Unsigned): string {
    const { ip, port, srtpParameters } = offer.endpoint;
    const fields = [offer.roomId, offer.fromNodeId, offer.toNodeId, ip, port, srtpParameters.cryptoSuite, srtpParameters.keyBase64, offer.issuedAt, offer.nonce];
    return createHmac('sha256', this.#secret).update(JSON.stringify(fields)).digest('hex');
  }
}

const refused = (why: string) => new ProtocolError('FORBIDDEN', `pipe offer refused: ${why}`);
