using System.Runtime.CompilerServices;

namespace UFork.Output;

/// <summary>
/// Writes into the arbiter's <see cref="IOutputSink"/> away from the actors that keep time: a pipe reader
/// hands it a batch and waits for the returned task before reading again, and the arbiter's own lines are
/// queued without waiting at all. One thread writes, so a stuck terminal or log blocks that thread and the
/// readers waiting on it, never a stop, a heartbeat or <c>status</c>.
/// <para>
/// Every OutputWriter over one sink shares one queue and one thread (the arbiter's and the workers' lines
/// are written in the order they were handed over, by one thread at a time). The thread exists only
/// while there is output: it ends after <see cref="Linger"/> without any, and a later line starts another.
/// </para>
/// <para>
/// Nothing waits on a stuck sink without a bound: the arbiter's own lines queue up to
/// <see cref="MaxQueuedLines"/> and are dropped beyond it, a batch whose reader gave up (its token was
/// cancelled) before it was written is dropped, and <see cref="Drain"/> waits a given time at most.
/// Dropped lines are counted in <see cref="LostLines"/>, and a line says how many once the sink writes again.
/// </para>
/// </summary>
internal sealed class OutputWriter : IOutputSink
{
    /// <summary>How many of the arbiter's own lines may wait for a stuck sink before new ones are dropped.</summary>
    public const int MaxQueuedLines = 10_000;

    /// <summary>How long the writer thread waits for more output before it ends.</summary>
    public static readonly TimeSpan Linger = TimeSpan.FromSeconds(2);

    /// <summary>How long <see cref="Close"/> waits for queued output: the process's exit waits this much at most for a stuck sink.</summary>
    public static readonly TimeSpan CloseLimit = TimeSpan.FromSeconds(2);

    private static readonly ConditionalWeakTable<IOutputSink, Lane> Lanes = new();

    private readonly Lane _lane;

    public OutputWriter(IOutputSink sink)
    {
        Sink = sink;
        _lane = Lanes.GetValue(sink, s => new Lane(s));
    }

    public IOutputSink Sink { get; }

    /// <summary>Lines that were never written: dropped from a full queue, given up by their reader, or left when a drain ran out of time.</summary>
    public long LostLines => _lane.LostLines;

    /// <summary>
    /// Completes once <paramref name="lines"/> are written; until then their buffers must stay as they are.
    /// Cancelling makes it complete at once (cancelled), so that a reader can give up on a stuck sink:
    /// lines not begun are then dropped and counted, while a batch being written is finished from buffers
    /// the reader must leave alone. A sink that throws fails the task with its exception.
    /// </summary>
    public Task WriteLinesAsync(int slot, int pid, OutputStream stream, IReadOnlyList<ReadOnlyMemory<byte>> lines, CancellationToken cancel) =>
        _lane.Enqueue(new Batch(slot, pid, stream, lines), cancel);

    /// <summary>Writes and waits, for callers that expect a sink; readers use <see cref="WriteLinesAsync"/>.</summary>
    void IOutputSink.WriteLines(int slot, int pid, OutputStream stream, IReadOnlyList<ReadOnlyMemory<byte>> lines) =>
        WriteLinesAsync(slot, pid, stream, lines, CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>Queues a line of the arbiter's own and returns at once; it is written after everything handed over before it.</summary>
    public void WriteLine(string line) => _lane.Enqueue(line);

    /// <summary>
    /// Waits, at most <paramref name="within"/>, until everything handed over so far is written; what is
    /// still queued then is dropped and counted in <see cref="LostLines"/>. Returns whether all was written.
    /// For the end of the process: a stuck sink must not keep it from exiting.
    /// </summary>
    public bool Drain(TimeSpan within) => _lane.Drain(within);

    /// <summary>
    /// For the owner of a sink at the end: waits up to <see cref="CloseLimit"/> for what is queued on it,
    /// then disposes it (itself bounded, <see cref="TaggedLineWriter.Dispose"/>).
    /// </summary>
    public static void Close(IOutputSink sink)
    {
        new OutputWriter(sink).Drain(CloseLimit);
        (sink as IDisposable)?.Dispose();
    }

    private sealed record Batch(int Slot, int Pid, OutputStream Stream, IReadOnlyList<ReadOnlyMemory<byte>> Lines);

    /// <summary>One thing to write: a batch of worker lines with the task its reader waits on, or a line of the arbiter's.</summary>
    private sealed class Item
    {
        public Batch? Batch;
        public string? Line;
        public TaskCompletionSource? Written;
        public CancellationTokenRegistration Cancellation;
        public bool Begun;

        public int LineCount => Batch?.Lines.Count ?? 1;
    }

    /// <summary>The queue and thread of one sink.</summary>
    private sealed class Lane(IOutputSink sink)
    {
        private readonly object _gate = new();
        private readonly Queue<Item> _queue = new();
        private bool _threadRunning;
        private bool _threadWaiting;
        private Item? _writing;
        private int _queuedLines;
        private long _lostLines;
        private long _lostUnreported;

        public long LostLines => Interlocked.Read(ref _lostLines);

        public Task Enqueue(Batch batch, CancellationToken cancel)
        {
            if (cancel.IsCancellationRequested)
                return Task.FromCanceled(cancel);
            // Continuations run on the writer thread: a flooding reader then reads its next batch there,
            // often without waiting (the pipe is full), instead of waiting for a pool thread for every
            // batch. The reader hops off this thread before it does anything else (OutputReader).
            var item = new Item { Batch = batch, Written = new TaskCompletionSource() };
            if (cancel.CanBeCanceled)
                item.Cancellation = cancel.Register(static state =>
                {
                    var (lane, cancelled) = ((Lane, Item))state!;
                    lane.Cancel(cancelled);
                }, (this, item));
            lock (_gate)
                Add(item);
            return item.Written.Task;
        }

        public void Enqueue(string line)
        {
            lock (_gate)
            {
                if (_queuedLines >= MaxQueuedLines)
                {
                    CountLost(1);
                    return;
                }
                _queuedLines++;
                Add(new Item { Line = line });
            }
        }

        private void Add(Item item)
        {
            _queue.Enqueue(item);
            if (_threadWaiting)
                Monitor.PulseAll(_gate); // All: a Drain may be waiting on the same monitor
            else if (!_threadRunning)
            {
                _threadRunning = true;
                new Thread(Run) { IsBackground = true, Name = "ufork output" }.Start();
            }
        }

        public bool Drain(TimeSpan within)
        {
            var deadline = Environment.TickCount64 + (long)within.TotalMilliseconds;
            List<Item> abandoned;
            lock (_gate)
            {
                while (_queue.Count > 0 || _writing is not null)
                {
                    var left = deadline - Environment.TickCount64;
                    if (left <= 0)
                        break;
                    Monitor.Wait(_gate, TimeSpan.FromMilliseconds(left));
                }
                abandoned = [.. _queue.Where(item => !item.Begun)];
                _queue.Clear();
                _queuedLines = 0;
                foreach (var item in abandoned)
                {
                    item.Begun = true;
                    CountLost(item.LineCount);
                }
            }
            foreach (var item in abandoned)
                Abandon(item);
            lock (_gate)
                return abandoned.Count == 0 && _writing is null;
        }

        private void Run()
        {
            while (Next() is { } item)
            {
                ReportLost();
                var failure = Write(item);
                lock (_gate)
                {
                    _writing = null;
                    Monitor.PulseAll(_gate); // a Drain may be waiting
                }
                item.Cancellation.Dispose();
                if (failure is null)
                    item.Written?.TrySetResult();
                else
                    item.Written?.TrySetException(failure);
            }
        }

        /// <summary>The next item to write, or null once none came for <see cref="Linger"/> (the thread ends).</summary>
        private Item? Next()
        {
            lock (_gate)
            {
                while (true)
                {
                    while (_queue.TryDequeue(out var item))
                    {
                        if (item.Line is not null)
                            _queuedLines--;
                        if (item.Begun)
                            continue; // cancelled before it was written: counted then
                        item.Begun = true;
                        _writing = item;
                        return item;
                    }
                    if (LostReport() is { } report) // lines dropped after the last write: said before waiting
                    {
                        _writing = report;
                        return report;
                    }
                    _threadWaiting = true;
                    var woken = Monitor.Wait(_gate, Linger);
                    _threadWaiting = false;
                    if (!woken && _queue.Count == 0)
                    {
                        _threadRunning = false;
                        return null;
                    }
                }
            }
        }

        private Exception? Write(Item item)
        {
            try
            {
                if (item.Batch is { } batch)
                    sink.WriteLines(batch.Slot, batch.Pid, batch.Stream, batch.Lines);
                else
                    sink.WriteLine(item.Line!);
                return null;
            }
            catch (Exception e)
            {
                // Sinks do not throw by contract; one that does fails its batch's reader, not this thread
                // (an exception ending it would end the process).
                CountLost(item.LineCount);
                return e;
            }
        }

        private void ReportLost()
        {
            if (LostReport() is { } report)
                Write(report);
        }

        private Item? LostReport() =>
            Interlocked.Exchange(ref _lostUnreported, 0) is var lost and > 0
                ? new Item { Line = $"[ufork] warning: {lost} lines were dropped while the output could not keep up", Begun = true }
                : null;

        /// <summary>A reader gave up waiting: its lines are dropped unless they are being written already.</summary>
        public void Cancel(Item item)
        {
            lock (_gate)
            {
                if (!item.Begun)
                {
                    item.Begun = true;
                    CountLost(item.LineCount);
                }
            }
            item.Written!.TrySetCanceled();
        }

        private static void Abandon(Item item)
        {
            item.Cancellation.Dispose();
            item.Written?.TrySetCanceled();
        }

        private void CountLost(long lines)
        {
            Interlocked.Add(ref _lostLines, lines);
            Interlocked.Add(ref _lostUnreported, lines);
        }
    }
}
