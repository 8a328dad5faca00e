using System.IO.Pipes;
using Akka.Actor;
using UFork.Output;
using UFork.Spawning;

namespace UFork.Worker;

/// <summary>
/// Reads one of a worker's output pipes and sends its whole lines to the WorkerActor, one message per
/// read. It waits for each batch to be written before reading again, so a worker that floods output
/// fills its pipe and blocks instead of growing the arbiter's memory. A line longer than
/// <see cref="MaxLine"/> (64 KiB) is sent in pieces of that size; a last line without a newline is sent at EOF.
/// </summary>
internal static class OutputReader
{
    public const int MaxLine = 64 * 1024;

    /// <summary>
    /// A reader starts with a <see cref="MaxLine"/> buffer and the pipe's default size (64 KiB); the first
    /// read that fills the buffer (a worker writing faster than it is echoed) grows both to this, so that
    /// a flood is echoed in fewer, larger batches, with fewer wake-ups of the worker and the arbiter.
    /// A quiet worker never pays for it, in memory or in the owner's pipe quota (fs.pipe-user-pages-soft).
    /// </summary>
    public const int FloodBuffer = 4 * MaxLine;

    public static async Task PumpAsync(Stream pipe, int pid, OutputStream stream, IActorRef worker, CancellationToken stopped)
    {
        var buffer = new byte[MaxLine];
        var filled = 0;
        var lines = new List<ReadOnlyMemory<byte>>(); // reused: a batch is written before the next read
        try
        {
            int read;
            while ((read = await pipe.ReadAsync(buffer.AsMemory(filled), stopped)) > 0)
            {
                filled += read;
                var consumed = SplitLines(buffer, filled, lines);
                if (lines.Count > 0)
                {
                    await SendAsync(worker, pid, stream, lines, stopped);
                    lines.Clear();
                }
                var target = buffer;
                if (filled == buffer.Length && buffer.Length < FloodBuffer)
                {
                    target = new byte[FloodBuffer];
                    if (pipe is PipeStream p)
                        Libc.TryResizePipe(p.SafePipeHandle, FloodBuffer); // best effort: a refusal only costs speed
                }
                buffer.AsSpan(consumed, filled - consumed).CopyTo(target);
                buffer = target;
                filled -= consumed;
            }
            if (filled > 0)
                await SendAsync(worker, pid, stream, [buffer.AsMemory(0, filled)], stopped);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The pipe was closed, or the WorkerActor stopped: nobody is left to echo to.
        }
    }

    /// <summary>
    /// Adds the whole lines in the first <paramref name="filled"/> bytes to <paramref name="lines"/>, and a
    /// <see cref="MaxLine"/> piece of any line that long without its newline; returns the bytes used.
    /// </summary>
    private static int SplitLines(byte[] buffer, int filled, List<ReadOnlyMemory<byte>> lines)
    {
        var start = 0;
        while (true)
        {
            var window = Math.Min(MaxLine, filled - start);
            var newline = buffer.AsSpan(start, window).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                lines.Add(buffer.AsMemory(start, newline));
                start += newline + 1;
            }
            else if (window == MaxLine)
            {
                lines.Add(buffer.AsMemory(start, MaxLine));
                start += MaxLine;
            }
            else
            {
                return start;
            }
        }
    }

    /// <summary>
    /// Hands a batch to the WorkerActor and completes once it is written. The continuation is not forced
    /// onto the thread pool: the reader resumes on the thread that wrote the batch, right after the write,
    /// and reads the next batch there, which spares a flooding worker a thread hop (a futex wake on a
    /// busy machine) per batch. It touches no actor state; the next batch still goes through the mailbox.
    /// </summary>
    private static Task SendAsync(IActorRef worker, int pid, OutputStream stream, List<ReadOnlyMemory<byte>> lines, CancellationToken stopped)
    {
        var written = new TaskCompletionSource();
        worker.Tell(new OutputLines(pid, stream, lines, written));
        return written.Task.WaitAsync(stopped);
    }
}
