using System.Buffers;

namespace UFork.Output;

/// <summary>
/// Writes each worker line to a stream as <see cref="LineFormat"/> says (<c>… [w2 4711] text</c>, <c>… [w2 4711 err]</c>
/// from stderr), each with the time it is written, one whole line at a time. A batch of lines is gathered in a
/// buffer of its own (256 KiB) and written with one write (one per 256 KiB), not three buffered-stream calls
/// per line; a write never ends inside a line. It never throws: a destination that fails (a terminal that
/// hung up, a full disk) loses those lines, not the arbiter, and once it works again a line says how many
/// were lost.
/// </summary>
public sealed class TaggedLineWriter(Stream destination, LineFormat format) : IOutputSink, IDisposable
{
    private const int BufferSize = 1 << 18;

    /// <summary>How long <see cref="Dispose"/> waits for a write in progress.</summary>
    public static readonly TimeSpan DisposeWait = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();
    private ArrayBufferWriter<byte> _gathered = new(BufferSize);
    private int _linesGathered;
    private long _lostLines;
    private string? _lostBecause;

    /// <summary>Plain text, no colour: for a file, or a test.</summary>
    public TaggedLineWriter(Stream destination) : this(destination, LineFormat.PlainText)
    {
    }

    public LineFormat Format => format;

    public void WriteLines(int slot, int pid, OutputStream stream, IReadOnlyList<ReadOnlyMemory<byte>> lines)
    {
        lock (_lock)
        {
            var prefix = format.WorkerPrefix(DateTimeOffset.Now, slot, pid, stream);
            for (var i = 0; i < lines.Count; i++)
            {
                format.AppendWorkerLine(_gathered, prefix, lines[i].Span);
                _linesGathered++;
                if (_gathered.WrittenCount >= BufferSize)
                    Flush();
            }
            Flush();
        }
    }

    public void WriteLine(string line)
    {
        lock (_lock)
        {
            format.AppendArbiterLine(_gathered, DateTimeOffset.Now, line);
            _linesGathered++;
            Flush();
        }
    }

    private void Flush()
    {
        if (_gathered.WrittenCount == 0)
            return;
        try
        {
            if (_lostLines > 0)
            {
                var report = new ArrayBufferWriter<byte>();
                format.AppendArbiterLine(report, DateTimeOffset.Now,
                    LineFormat.ArbiterLine(Akka.Event.LogLevel.WarningLevel, $"{_lostLines} lines could not be written: {_lostBecause}"));
                destination.Write(report.WrittenSpan);
            }
            destination.Write(_gathered.WrittenSpan);
            destination.Flush();
            _lostLines = 0;
        }
        catch (IOException e)
        {
            _lostLines += _linesGathered;
            _lostBecause = e.Message;
        }
        finally
        {
            _linesGathered = 0;
            if (_gathered.Capacity > 2 * BufferSize)
                _gathered = new ArrayBufferWriter<byte>(BufferSize); // a one-off giant line does not keep its buffer
            else
                _gathered.ResetWrittenCount();
        }
    }

    /// <summary>
    /// Writes what is gathered and closes the stream, unless a write is stuck (a pipe nobody reads):
    /// after <see cref="DisposeWait"/> the stream is left to be closed by the process's exit.
    /// </summary>
    public void Dispose()
    {
        if (!_lock.TryEnter(DisposeWait))
            return;
        try
        {
            Flush();
            destination.Dispose();
        }
        finally
        {
            _lock.Exit();
        }
    }
}
