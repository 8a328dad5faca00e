using System.Text;
using System.Text.Unicode;

namespace UFork.Output;

/// <summary>
/// Writes each worker line to a stream as <c>[w2 4711] text</c> (<c>[w2 4711 err]</c> from stderr),
/// one whole line at a time, with bytes that are not UTF-8 shown as \xNN so a terminal or a log
/// reader never sees broken text. Each call is one write of whole lines. It never throws: a destination
/// that fails (a terminal that hung up, a full disk) loses those lines, not the arbiter, and once it
/// works again a line says how many were lost.
/// </summary>
public sealed class TaggedLineWriter(Stream destination) : IOutputSink, IDisposable
{
    private readonly MemoryStream _batch = new(1 << 16);
    private readonly Lock _lock = new();
    private long _lostLines;
    private string? _lostBecause;

    public void WriteLines(int slot, int pid, OutputStream stream, IReadOnlyList<ReadOnlyMemory<byte>> lines)
    {
        var tag = Encoding.ASCII.GetBytes(stream == OutputStream.Stdout ? $"[w{slot} {pid}] " : $"[w{slot} {pid} err] ");
        lock (_lock)
        {
            StartBatch();
            foreach (var line in lines)
            {
                _batch.Write(tag);
                WriteEscaped(line.Span);
                _batch.WriteByte((byte)'\n');
            }
            WriteBatch(lines.Count);
        }
    }

    public void WriteLine(string line)
    {
        lock (_lock)
        {
            StartBatch();
            _batch.Write(Encoding.UTF8.GetBytes(line + "\n"));
            WriteBatch(1);
        }
    }

    private void StartBatch()
    {
        _batch.SetLength(0);
        if (_lostLines > 0)
            _batch.Write(Encoding.UTF8.GetBytes($"[ufork] warning: {_lostLines} lines could not be written: {_lostBecause}\n"));
    }

    private void WriteBatch(int lines)
    {
        try
        {
            destination.Write(_batch.GetBuffer(), 0, (int)_batch.Length);
            destination.Flush();
            _lostLines = 0;
        }
        catch (IOException e)
        {
            _lostLines += lines;
            _lostBecause = e.Message;
        }
    }

    private void WriteEscaped(ReadOnlySpan<byte> line)
    {
        if (Utf8.IsValid(line))
        {
            _batch.Write(line);
            return;
        }
        while (!line.IsEmpty)
        {
            var status = System.Text.Rune.DecodeFromUtf8(line, out _, out var consumed);
            if (status == System.Buffers.OperationStatus.Done)
                _batch.Write(line[..consumed]);
            else
                for (var i = 0; i < consumed; i++)
                    _batch.Write(Encoding.ASCII.GetBytes($"\\x{line[i]:x2}"));
            line = line[consumed..];
        }
    }

    public void Dispose()
    {
        lock (_lock)
            destination.Dispose();
    }
}
