using System.Text;
using System.Text.Unicode;

namespace UFork.Output;

/// <summary>
/// Writes each worker line to a stream as <c>[w2 4711] text</c> (<c>[w2 4711 err]</c> from stderr),
/// one whole line at a time, with bytes that are not UTF-8 shown as \xNN so a terminal or a log
/// reader never sees broken text.
/// </summary>
public sealed class TaggedLineWriter(Stream destination) : IOutputSink, IDisposable
{
    private readonly BufferedStream _out = new(destination, 1 << 16);
    private readonly Lock _lock = new();

    public void WriteLines(int slot, int pid, OutputStream stream, IReadOnlyList<ReadOnlyMemory<byte>> lines)
    {
        var tag = Encoding.ASCII.GetBytes(stream == OutputStream.Stdout ? $"[w{slot} {pid}] " : $"[w{slot} {pid} err] ");
        lock (_lock)
        {
            foreach (var line in lines)
            {
                _out.Write(tag);
                WriteEscaped(line.Span);
                _out.WriteByte((byte)'\n');
            }
            _out.Flush();
        }
    }

    public void WriteLine(string line)
    {
        var bytes = Encoding.UTF8.GetBytes(line + "\n");
        lock (_lock)
        {
            _out.Write(bytes);
            _out.Flush();
        }
    }

    private void WriteEscaped(ReadOnlySpan<byte> line)
    {
        if (Utf8.IsValid(line))
        {
            _out.Write(line);
            return;
        }
        while (!line.IsEmpty)
        {
            var status = System.Text.Rune.DecodeFromUtf8(line, out _, out var consumed);
            if (status == System.Buffers.OperationStatus.Done)
                _out.Write(line[..consumed]);
            else
                for (var i = 0; i < consumed; i++)
                    _out.Write(Encoding.ASCII.GetBytes($"\\x{line[i]:x2}"));
            line = line[consumed..];
        }
    }

    public void Dispose()
    {
        lock (_lock)
            _out.Dispose();
    }
}
