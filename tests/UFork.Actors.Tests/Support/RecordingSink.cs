using System.Text;
using UFork.Output;

namespace UFork.Tests.Support;

/// <summary>An <see cref="IOutputSink"/> that keeps every line, so tests can await and inspect them.</summary>
public sealed class RecordingSink : IOutputSink
{
    public sealed record Line(int Slot, int Pid, OutputStream Stream, string Text, int Bytes);

    private readonly List<Line> _lines = [];
    private readonly List<(Func<Line, bool> Match, TaskCompletionSource<Line> Found)> _waiters = [];
    private readonly Lock _lock = new();

    public IReadOnlyList<Line> Lines
    {
        get { lock (_lock) return _lines.ToList(); }
    }

    public void WriteLines(int slot, int pid, OutputStream stream, IReadOnlyList<ReadOnlyMemory<byte>> lines)
    {
        lock (_lock)
        {
            foreach (var bytes in lines)
            {
                var line = new Line(slot, pid, stream, Encoding.UTF8.GetString(bytes.Span), bytes.Length);
                _lines.Add(line);
                foreach (var waiter in _waiters.Where(w => w.Match(line)).ToList())
                {
                    _waiters.Remove(waiter);
                    waiter.Found.TrySetResult(line);
                }
            }
        }
    }

    public void WriteLine(string line)
    {
    }

    /// <summary>The first line, already written or still to come, that matches.</summary>
    public Task<Line> WaitForAsync(Func<Line, bool> match, TimeSpan within)
    {
        lock (_lock)
        {
            if (_lines.FirstOrDefault(match) is { } seen)
                return Task.FromResult(seen);
            var found = new TaskCompletionSource<Line>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((match, found));
            return found.Task.WaitAsync(within);
        }
    }
}
