using System.Text;

namespace UFork.Output;

/// <summary>
/// The last lines one worker process wrote (stdout and stderr interleaved as read), bounded, so that a
/// worker that dies on boot can be reported with what it said.
/// </summary>
internal sealed class OutputTail(int capacity)
{
    private readonly Queue<string> _lines = new();
    private readonly Lock _lock = new();

    public void Add(OutputStream stream, ReadOnlySpan<byte> line)
    {
        var text = (stream == OutputStream.Stderr ? "err: " : "") + Encoding.UTF8.GetString(line);
        lock (_lock)
        {
            _lines.Enqueue(text);
            if (_lines.Count > capacity)
                _lines.Dequeue();
        }
    }

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lock)
                return _lines.ToList();
        }
    }
}
