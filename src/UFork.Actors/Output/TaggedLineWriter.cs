using System.Text;
using System.Text.Unicode;

namespace UFork.Output;

/// <summary>
/// Writes each worker line to a stream as <c>[w2 4711] text</c> (<c>[w2 4711 err]</c> from stderr),
/// one whole line at a time, with bytes that are not UTF-8 shown as \xNN so a terminal or a log
/// reader never sees broken text. A batch of lines is gathered in a buffer of its own (256 KiB) and
/// written with one write (one per 256 KiB), not three buffered-stream calls per line; a write never
/// ends inside a line unless that one line is larger than the buffer. It never throws: a destination
/// that fails (a terminal that hung up, a full disk) loses those lines, not the arbiter, and once it
/// works again a line says how many were lost.
/// </summary>
public sealed class TaggedLineWriter(Stream destination) : IOutputSink, IDisposable
{
    private const int BufferSize = 1 << 18;

    /// <summary>How long <see cref="Dispose"/> waits for a write in progress.</summary>
    public static readonly TimeSpan DisposeWait = TimeSpan.FromSeconds(1);
    private static ReadOnlySpan<byte> Hex => "0123456789abcdef"u8;

    private readonly Lock _lock = new();
    private byte[] _buffer = new byte[BufferSize];
    private int _filled;
    private int _linesGathered;
    private long _lostLines;
    private string? _lostBecause;

    public void WriteLines(int slot, int pid, OutputStream stream, IReadOnlyList<ReadOnlyMemory<byte>> lines)
    {
        Span<byte> tag = stackalloc byte[64];
        var written = stream == OutputStream.Stdout
            ? Utf8.TryWrite(tag, $"[w{slot} {pid}] ", out var length)
            : Utf8.TryWrite(tag, $"[w{slot} {pid} err] ", out length);
        if (!written)
            throw new InvalidOperationException("a worker tag does not fit in 64 bytes");
        tag = tag[..length];
        lock (_lock)
        {
            for (var i = 0; i < lines.Count; i++)
            {
                var line = lines[i].Span;
                if (Utf8.IsValid(line))
                {
                    Reserve(tag.Length + line.Length + 1);
                    Append(tag);
                    Append(line);
                }
                else
                {
                    Reserve(tag.Length + 4 * line.Length + 1); // \xNN: at most 4 bytes for each byte
                    Append(tag);
                    AppendEscaped(line);
                }
                _buffer[_filled++] = (byte)'\n';
                _linesGathered++;
            }
            Flush();
        }
    }

    public void WriteLine(string line)
    {
        var bytes = Encoding.UTF8.GetBytes(line + "\n");
        lock (_lock)
        {
            Reserve(bytes.Length);
            Append(bytes);
            _linesGathered++;
            Flush();
        }
    }

    /// <summary>Room for <paramref name="bytes"/> more: writes out what is gathered first when they would not fit.</summary>
    private void Reserve(int bytes)
    {
        if (_buffer.Length - _filled >= bytes)
            return;
        Flush();
        if (_buffer.Length < bytes) // one line larger than the buffer: it is written on its own
            _buffer = new byte[Math.Max(bytes, BufferSize)];
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(_buffer.AsSpan(_filled));
        _filled += bytes.Length;
    }

    private void AppendEscaped(ReadOnlySpan<byte> line)
    {
        while (!line.IsEmpty)
        {
            var status = Rune.DecodeFromUtf8(line, out _, out var consumed);
            if (status == System.Buffers.OperationStatus.Done)
            {
                Append(line[..consumed]);
            }
            else
            {
                foreach (var b in line[..consumed])
                {
                    _buffer[_filled++] = (byte)'\\';
                    _buffer[_filled++] = (byte)'x';
                    _buffer[_filled++] = Hex[b >> 4];
                    _buffer[_filled++] = Hex[b & 0xf];
                }
            }
            line = line[consumed..];
        }
    }

    private void Flush()
    {
        if (_filled == 0)
            return;
        try
        {
            if (_lostLines > 0)
                destination.Write(Encoding.UTF8.GetBytes($"[ufork] warning: {_lostLines} lines could not be written: {_lostBecause}\n"));
            destination.Write(_buffer, 0, _filled);
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
            _filled = 0;
            _linesGathered = 0;
            if (_buffer.Length > BufferSize)
                _buffer = new byte[BufferSize]; // a one-off giant line does not keep its buffer
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
