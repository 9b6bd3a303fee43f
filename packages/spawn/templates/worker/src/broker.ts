// The broker port. Every adapter gives at-least-once delivery: a message is removed only by ack() or by
// deadLetter() (which first stores it in the dead-letter queue), so a crash in between delivers it again.

/** One delivery of a message. */
export interface Delivery {
  readonly id: string;
  readonly body: string;
  /** This delivery's number, counting from 1. */
  readonly attempt: number;
  /** Done: the message is removed. */
  ack(): Promise<void>;
  /** Failed: deliver it again after `delayMs`, as attempt + 1. */
  retry(delayMs: number): Promise<void>;
  /** Give up: store it in the dead-letter queue with the reason, then remove it. */
  deadLetter(reason: string): Promise<void>;
}

/** A message in the dead-letter queue. */
export interface DeadLetter {
  readonly id: string;
  readonly body: string;
  readonly reason: string;
}

export interface Broker {
  /** Delivers messages to `onMessage`, at most `concurrency` at once, until stop(). */
  consume(onMessage: (d: Delivery) => Promise<void>, concurrency: number): Promise<void>;
  /** Stops taking new messages (deliveries in flight may still settle). */
  stop(): Promise<void>;
  publish(body: string): Promise<void>;
  /** Up to `max` dead letters, oldest first, left in place. */
  deadLetters(max: number): Promise<DeadLetter[]>;
  /** Whether the broker connection is up (readiness). */
  healthy(): boolean;
  /** Closes the connection. */
  close(): Promise<void>;
  /** Removes this queue's broker objects (tests and teardown only). */
  destroy(): Promise<void>;
}
