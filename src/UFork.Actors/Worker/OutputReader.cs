using Akka.Actor;
using UFork.Output;

namespace UFork.Worker;

/// <summary>
/// Reads one of a worker's output pipes and sends its whole lines to the WorkerActor, one message per
/// read. It waits for each batch to be written before reading again, so a worker that floods output
/// fills its pipe and blocks instead of growing the arbiter's memory. A line longer than the buffer
/// (64 KiB) is sent in pieces; a last line without a newline is sent at EOF.
/// </summary>
internal static class OutputReader
{
    public const int MaxLine = 64 * 1024;

    public static async Task PumpAsync(Stream pipe, int pid, OutputStream stream, IActorRef worker, CancellationToken stopped)
    {
        var buffer = new byte[MaxLine];
        var filled = 0;
        try
        {
            int read;
            while ((read = await pipe.ReadAsync(buffer.AsMemory(filled), stopped)) > 0)
            {
                filled += read;
                var (lines, consumed) = SplitLines(buffer, filled);
                if (lines.Count > 0)
                    await SendAsync(worker, pid, stream, lines, stopped);
                buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
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

    /// <summary>The whole lines in the first <paramref name="filled"/> bytes, or the buffer as one piece when full.</summary>
    private static (List<ReadOnlyMemory<byte>> Lines, int Consumed) SplitLines(byte[] buffer, int filled)
    {
        var lines = new List<ReadOnlyMemory<byte>>();
        var start = 0;
        int newline;
        while ((newline = Array.IndexOf(buffer, (byte)'\n', start, filled - start)) >= 0)
        {
            lines.Add(buffer.AsMemory(start, newline - start));
            start = newline + 1;
        }
        if (start == 0 && filled == buffer.Length)
        {
            lines.Add(buffer.AsMemory(0, filled));
            start = filled;
        }
        return (lines, start);
    }

    private static Task SendAsync(IActorRef worker, int pid, OutputStream stream, List<ReadOnlyMemory<byte>> lines, CancellationToken stopped)
    {
        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        worker.Tell(new OutputLines(pid, stream, lines, written));
        return written.Task.WaitAsync(stopped);
    }
}
