using System.Text;

namespace UFork.Output;

/// <summary>
/// The last lines one worker process wrote (stdout and stderr interleaved as read), bounded, so that a
/// worker that dies on boot can be reported with what it said. Cheap in a flood: of each batch only the
/// last <c>capacity</c> lines are kept, as bytes copied into buffers reused from line to line; text is made
/// only when <see cref="Lines"/> is read. A line is kept up to <see cref="MaxLineKept"/> bytes.
/// </summary>
internal sealed class OutputTail
{
    /// <summary>Bytes kept of one line; a longer one ends with "…" in <see cref="Lines"/>.</summary>
    public const int MaxLineKept = 1024;

    private const int SmallLine = 128;

    private readonly Kept[] _ring;
    private readonly Lock _lock = new();
    private int _next;
    private int _count;

    public OutputTail(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        _ring = new Kept[capacity];
    }

    /// <summary>Keeps the last lines of a batch read from <paramref name="stream"/>; the buffers may be reused once this returns.</summary>
    public void Add(OutputStream stream, IReadOnlyList<ReadOnlyMemory<byte>> lines)
    {
        lock (_lock)
        {
            for (var i = Math.Max(0, lines.Count - _ring.Length); i < lines.Count; i++)
                Keep(stream, lines[i].Span);
        }
    }

    private void Keep(OutputStream stream, ReadOnlySpan<byte> line)
    {
        ref var kept = ref _ring[_next];
        var length = Math.Min(line.Length, MaxLineKept);
        if (kept.Bytes is null || kept.Bytes.Length < length)
            kept.Bytes = new byte[length <= SmallLine ? SmallLine : MaxLineKept];
        line[..length].CopyTo(kept.Bytes);
        kept.Length = length;
        kept.Truncated = line.Length > length;
        kept.Stream = stream;
        _next = (_next + 1) % _ring.Length;
        _count = Math.Min(_count + 1, _ring.Length);
    }

    /// <summary>Oldest first; lines from stderr start with "err: ".</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lock)
            {
                var lines = new List<string>(_count);
                for (var i = 0; i < _count; i++)
                {
                    var kept = _ring[(_next - _count + i + _ring.Length) % _ring.Length];
                    lines.Add((kept.Stream == OutputStream.Stderr ? "err: " : "")
                              + Encoding.UTF8.GetString(kept.Bytes!, 0, kept.Length)
                              + (kept.Truncated ? "…" : ""));
                }
                return lines;
            }
        }
    }

    private struct Kept
    {
        public byte[]? Bytes;
        public int Length;
        public bool Truncated;
        public OutputStream Stream;
    }
}
