/**
 * A video's frames as object URLs, fetched one frame at a time (never the whole video): the frame asked for
 * first, then a few ahead, a bounded number at once; at most `capacity` kept, those farthest from the frame
 * being shown dropped (and their URLs revoked) first.
 */

export type FrameLoader = (frame: number) => Promise<Blob>;

export interface FrameCacheOptions {
  capacity?: number;
  concurrency?: number;
  /** how to make and free a URL for a blob (the browser's object URLs by default) */
  toUrl?: (blob: Blob) => string;
  revoke?: (url: string) => void;
}

export class FrameCache {
  private readonly urls = new Map<number, string>();
  private readonly loading = new Set<number>();
  private readonly failed = new Map<number, unknown>();
  private queue: number[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly capacity: number;
  private readonly concurrency: number;
  private readonly toUrl: (blob: Blob) => string;
  private readonly revoke: (url: string) => void;
  private centre = 0;
  private disposed = false;

  constructor(
    private readonly load: FrameLoader,
    private readonly frameCount: number,
    options: FrameCacheOptions = {},
  ) {
    this.capacity = options.capacity ?? 64;
    this.concurrency = options.concurrency ?? 4;
    this.toUrl = options.toUrl ?? ((blob) => URL.createObjectURL(blob));
    this.revoke = options.revoke ?? ((url) => URL.revokeObjectURL(url));
  }

  url(frame: number): string | undefined {
    return this.urls.get(frame);
  }

  error(frame: number): unknown {
    return this.failed.get(frame);
  }

  /** Called whenever a frame arrives or fails. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Frame `frame` first, then the `ahead` frames after it; what was queued for another frame is dropped. A
   * frame that failed is tried again when it is the one asked for.
   */
  want(frame: number, ahead: number): void {
    this.centre = frame;
    this.failed.delete(frame);
    const last = Math.min(this.frameCount - 1, frame + ahead);
    this.queue = [];
    for (let n = frame; n <= last; n += 1) {
      if (!this.urls.has(n) && !this.loading.has(n) && !this.failed.has(n)) this.queue.push(n);
    }
    this.pump();
  }

  dispose(): void {
    this.disposed = true;
    this.queue = [];
    for (const url of this.urls.values()) this.revoke(url);
    this.urls.clear();
    this.listeners.clear();
  }

  private pump(): void {
    while (!this.disposed && this.loading.size < this.concurrency && this.queue.length > 0) {
      const frame = this.queue.shift() as number;
      this.loading.add(frame);
      this.load(frame).then(
        (blob) => this.arrived(frame, blob),
        (error: unknown) => this.settle(frame, () => this.failed.set(frame, error)),
      );
    }
  }

  private arrived(frame: number, blob: Blob): void {
    this.settle(frame, () => {
      this.urls.set(frame, this.toUrl(blob));
      this.evict();
    });
  }

  private settle(frame: number, record: () => void): void {
    this.loading.delete(frame);
    if (this.disposed) return;
    record();
    for (const listener of this.listeners) listener();
    this.pump();
  }

  private evict(): void {
    if (this.urls.size <= this.capacity) return;
    const far = [...this.urls.keys()].sort((a, b) => Math.abs(b - this.centre) - Math.abs(a - this.centre));
    for (const frame of far.slice(0, this.urls.size - this.capacity)) {
      this.revoke(this.urls.get(frame) as string);
      this.urls.delete(frame);
    }
  }
}
