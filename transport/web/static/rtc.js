/*
 * Spinmatch date chat: a text chat over a WebRTC RTCDataChannel, signalled
 * through the server's relay (`signal` messages).
 *
 * Roles: the partner whose user_id sorts lower is the initiator and creates
 * the offer; the other answers. Every negotiation carries a session id
 * (`sid`) so candidates from an older attempt are ignored after a restart.
 *
 * Signal payloads (the `data` of a `signal` message):
 *   {type: "offer",     sid, sdp}
 *   {type: "answer",    sid, sdp}
 *   {type: "candidate", sid, candidate}   // RTCIceCandidateInit
 *   {type: "hello"}                       // "I (re)joined: please offer again"
 *
 * Data channel frames: {t: "msg", text}.
 *
 * Exposes window.PeerChat; app.js owns one instance per match.
 */
(() => {
  'use strict';

  const OPEN_TIMEOUT_MS = 10000; // after this, the chat shows as unavailable
  const MAX_TEXT = 500;
  const MAX_EARLY_CANDIDATES = 64;

  class PeerChat {
    /**
     * @param {object} opts
     * @param {boolean} opts.initiator  true when this side creates the offer
     * @param {boolean} opts.resumed    true when joining a date already under way (reload)
     * @param {(data: object) => void} opts.sendSignal  relays data to the partner
     * @param {(status: string) => void} opts.onStatus  connecting | open | unavailable | closed
     * @param {(text: string) => void} opts.onMessage   a chat line from the partner
     */
    constructor(opts) {
      this.initiator = opts.initiator;
      this.resumed = opts.resumed;
      this.sendSignal = opts.sendSignal;
      this.onStatus = opts.onStatus;
      this.onMessage = opts.onMessage;
      this.pc = null;
      this.channel = null;
      this.sid = '';
      this.status = '';
      this.closed = false;
      this.timer = 0;
      this.early = [];                 // candidates that arrived before their offer
      this.chain = Promise.resolve();  // signals are applied one at a time, in order
    }

    /** Starts negotiating; safe to call once. */
    start() {
      if (typeof RTCPeerConnection !== 'function') {
        this.setStatus('unavailable');
        return;
      }
      this.setStatus('connecting');
      this.armTimeout();
      if (this.initiator) {
        this.enqueue(() => this.offer());
      } else if (this.resumed) {
        this.sendSignal({ type: 'hello' });
      }
    }

    /** Applies one relayed signal from the partner. */
    handleSignal(data) {
      if (!data || typeof data !== 'object' || this.closed) return;
      this.enqueue(() => this.apply(data));
    }

    /** Sends a chat line; returns false when the channel is not open. */
    send(text) {
      const line = String(text).trim().slice(0, MAX_TEXT);
      if (!line || !this.channel || this.channel.readyState !== 'open') return false;
      this.channel.send(JSON.stringify({ t: 'msg', text: line }));
      return true;
    }

    /** Closes the connection for good. */
    close() {
      if (this.closed) return;
      this.closed = true;
      clearTimeout(this.timer);
      this.closePeer();
      this.setStatus('closed');
    }

    // ---- internals ----

    enqueue(step) {
      this.chain = this.chain.then(step).catch((err) => {
        console.warn('spinmatch chat: signalling step failed', err);
      });
    }

    armTimeout() {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        if (this.status !== 'open' && !this.closed) this.setStatus('unavailable');
      }, OPEN_TIMEOUT_MS);
    }

    setStatus(status) {
      if (this.status === status) return;
      this.status = status;
      this.onStatus(status);
    }

    async apply(data) {
      if (this.closed) return;
      switch (data.type) {
        case 'hello':
          if (this.initiator) await this.offer();
          break;
        case 'offer':
          if (!this.initiator && typeof data.sdp === 'string') await this.answer(data);
          break;
        case 'answer':
          if (this.initiator && this.pc && data.sid === this.sid && typeof data.sdp === 'string') {
            await this.pc.setRemoteDescription({ type: 'answer', sdp: data.sdp });
          }
          break;
        case 'candidate':
          await this.addCandidate(data);
          break;
        default:
          break; // unknown signals are ignored: newer clients may send more
      }
    }

    /** Initiator: a fresh connection, a data channel and an offer. */
    async offer() {
      const sid = randomId();
      const pc = this.newPeer(sid);
      this.attachChannel(pc.createDataChannel('chat', { ordered: true }));
      await pc.setLocalDescription(await pc.createOffer());
      if (this.pc !== pc) return; // superseded meanwhile
      this.sendSignal({ type: 'offer', sid, sdp: pc.localDescription.sdp });
    }

    /** Answerer: a fresh connection for every offer (the partner may have reloaded). */
    async answer(data) {
      const pc = this.newPeer(data.sid);
      await pc.setRemoteDescription({ type: 'offer', sdp: data.sdp });
      const early = this.early.filter((c) => c.sid === data.sid);
      this.early = [];
      for (const c of early) await this.addCandidate(c);
      await pc.setLocalDescription(await pc.createAnswer());
      if (this.pc !== pc) return;
      this.sendSignal({ type: 'answer', sid: data.sid, sdp: pc.localDescription.sdp });
    }

    async addCandidate(data) {
      if (!data.candidate) return;
      if (!this.pc || data.sid !== this.sid || !this.pc.remoteDescription) {
        if (this.early.length < MAX_EARLY_CANDIDATES) this.early.push(data);
        return;
      }
      await this.pc.addIceCandidate(data.candidate);
    }

    newPeer(sid) {
      this.closePeer();
      this.sid = sid;
      this.early = this.early.filter((c) => c.sid === sid);
      if (this.status !== 'connecting') {
        this.setStatus('connecting');
        this.armTimeout();
      }
      // No ICE servers: host candidates work on one machine or a LAN.
      const pc = new RTCPeerConnection({ iceServers: [] });
      pc.onicecandidate = (e) => {
        if (e.candidate && this.pc === pc) {
          this.sendSignal({ type: 'candidate', sid, candidate: e.candidate.toJSON() });
        }
      };
      pc.ondatachannel = (e) => {
        if (this.pc === pc) this.attachChannel(e.channel);
      };
      pc.onconnectionstatechange = () => {
        if (this.pc === pc && pc.connectionState === 'failed') this.setStatus('unavailable');
      };
      this.pc = pc;
      return pc;
    }

    attachChannel(channel) {
      this.channel = channel;
      channel.onopen = () => {
        if (this.channel !== channel) return;
        clearTimeout(this.timer);
        this.setStatus('open');
      };
      channel.onclose = () => {
        // The partner left or is reloading; wait quietly for a new offer.
        if (this.channel === channel && !this.closed) {
          this.setStatus('connecting');
          this.armTimeout();
        }
      };
      channel.onmessage = (e) => {
        let frame;
        try { frame = JSON.parse(e.data); } catch { return; }
        if (frame && frame.t === 'msg' && typeof frame.text === 'string') {
          this.onMessage(frame.text.slice(0, MAX_TEXT));
        }
      };
    }

    closePeer() {
      if (this.channel) {
        this.channel.onopen = this.channel.onclose = this.channel.onmessage = null;
        try { this.channel.close(); } catch { /* already closed */ }
        this.channel = null;
      }
      if (this.pc) {
        this.pc.onicecandidate = this.pc.ondatachannel = this.pc.onconnectionstatechange = null;
        try { this.pc.close(); } catch { /* already closed */ }
        this.pc = null;
      }
    }
  }

  function randomId() {
    const bytes = new Uint8Array(8);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  window.PeerChat = PeerChat;
})();
