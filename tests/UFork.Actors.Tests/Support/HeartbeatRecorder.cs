using System.Diagnostics;
using System.Text;
using UFork.Runtime;

namespace UFork.Tests.Support;

/// <summary>
/// Reads a worker's heartbeat pipe as the arbiter would and remembers when each beat and each ready
/// message arrived (since the recorder was made, just after the spawn) and every other byte.
/// </summary>
public sealed class HeartbeatRecorder
{
    private const byte BeatByte = 1;

    private readonly Lock _lock = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<TimeSpan> _beats = [];
    private readonly List<TimeSpan> _readies = [];
    private readonly StringBuilder _text = new();
    private readonly ChangeSignal _changed = new();

    public HeartbeatRecorder(Stream pipe) => Reading = ReadAsync(pipe);

    /// <summary>Completes at EOF: every write end is closed.</summary>
    public Task Reading { get; }

    /// <summary>When each beat arrived.</summary>
    public IReadOnlyList<TimeSpan> Beats { get { lock (_lock) return [.. _beats]; } }

    /// <summary>When each ready message arrived.</summary>
    public IReadOnlyList<TimeSpan> Readies { get { lock (_lock) return [.. _readies]; } }

    /// <summary>Every byte that was not a beat: <c>ready\n</c> once, for a worker that said so.</summary>
    public string Text { get { lock (_lock) return _text.ToString(); } }

    public TimeSpan Now => _clock.Elapsed;

    /// <summary>How long since the last beat (or since the start, before any).</summary>
    public TimeSpan SilentFor
    {
        get
        {
            lock (_lock)
                return _clock.Elapsed - (_beats.Count > 0 ? _beats[^1] : TimeSpan.Zero);
        }
    }

    /// <summary>True as soon as <paramref name="condition"/> holds of what has arrived; false after <paramref name="within"/>.</summary>
    public Task<bool> UntilAsync(Func<HeartbeatRecorder, bool> condition, TimeSpan within) =>
        _changed.UntilAsync(() => condition(this), within);

    public override string ToString()
    {
        lock (_lock)
            return $"{_beats.Count} beats (last at {(_beats.Count > 0 ? _beats[^1].TotalMilliseconds : 0):F0} ms), "
                   + $"ready at [{string.Join(", ", _readies.Select(r => $"{r.TotalMilliseconds:F0} ms"))}], "
                   + $"other bytes \"{_text.ToString().ReplaceLineEndings("\\n")}\", now {_clock.Elapsed.TotalMilliseconds:F0} ms";
    }

    private async Task ReadAsync(Stream pipe)
    {
        await using var _ = pipe;
        var buffer = new byte[256];
        int read;
        while ((read = await pipe.ReadAsync(buffer)) > 0)
        {
            lock (_lock)
            {
                var at = _clock.Elapsed;
                foreach (var b in buffer.AsSpan(0, read))
                {
                    if (b == BeatByte)
                    {
                        _beats.Add(at);
                        continue;
                    }
                    _text.Append((char)b);
                    if (b == '\n' && _text.ToString().EndsWith(WorkerEnvironment.ReadyMessage, StringComparison.Ordinal))
                        _readies.Add(at);
                }
            }
            _changed.Notify();
        }
        _changed.Notify();
    }
}
