using System.IO.Pipes;
using UFork.Output;
using UFork.Spawning;

namespace UFork.Worker;

/// <summary>
/// Reads one of a worker's output pipes and hands its whole lines to the <see cref="OutputWriter"/>, one
/// batch per read, keeping the last few in the process's <see cref="OutputTail"/>. It waits for each batch
/// to be written before reading again, so a worker that floods output fills its pipe and blocks instead
/// of growing the arbiter's memory; the WorkerActor never waits for output, it awaits the pump's end (EOF). A line longer than
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

    public static async Task PumpAsync(Stream pipe, int slot, int pid, OutputStream stream, OutputWriter writer, OutputTail tail,
        ProcessFigures figures, CancellationToken stopped)
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
                    await SendAsync(writer, tail, figures, slot, pid, stream, lines, stopped);
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
                await SendAsync(writer, tail, figures, slot, pid, stream, [buffer.AsMemory(0, filled)], stopped);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The pipe was closed, or the WorkerActor stopped: nobody is left to echo to.
        }
        finally
        {
            // The writer resumes this loop on its own thread (OutputWriter); whoever awaits the end of the
            // output must not run there.
            await Task.Yield();
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

    private static Task SendAsync(OutputWriter writer, OutputTail tail, ProcessFigures figures, int slot, int pid, OutputStream stream,
        List<ReadOnlyMemory<byte>> lines, CancellationToken stopped)
    {
        tail.Add(stream, lines);
        figures.CountOutput(lines);
        return writer.WriteLinesAsync(slot, pid, stream, lines, stopped);
    }
}
