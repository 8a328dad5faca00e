using System.Text;
using UFork.Metrics;
using UFork.Runtime;

namespace UFork.Worker;

/// <summary>
/// What the bytes on a heartbeat pipe mean, read by read: any byte is a beat, except those of a metrics
/// line (<c>metrics {json}\n</c>, which is no proof of health); a line ending in <c>ready</c> is the ready
/// message. A metrics line is kept up to <see cref="MetricsSnapshot.MaxLineBytes"/>; a longer or malformed one
/// is dropped and counted, and the parser goes on at the next newline: a worker's garbage costs it its
/// metrics, never the arbiter anything.
/// </summary>
internal sealed class HeartbeatParser
{
    private const byte BeatByte = 1;

    private static readonly byte[] MetricsPrefix = Encoding.ASCII.GetBytes(MetricsSnapshot.LinePrefix);
    private static readonly byte[] Ready = Encoding.ASCII.GetBytes(WorkerEnvironment.ReadyMessage.TrimEnd('\n'));

    private readonly List<MetricsSnapshot> _snapshots = [];
    private byte[] _line = new byte[256];
    private int _length;          // bytes of the current line kept in _line
    private bool _isMetrics;      // the current line began with the metrics prefix
    private bool _overflowed;     // ... and grew past the bound: dropped, up to its newline

    /// <summary>Metrics lines dropped as too long or malformed.</summary>
    public long Rejected { get; private set; }

    /// <summary>The metrics lines completed by the last <see cref="Read"/>.</summary>
    public IReadOnlyList<MetricsSnapshot> Snapshots => _snapshots;

    /// <summary>Takes one read's bytes; says whether they held a beat and whether they completed the ready message.</summary>
    public (bool Beat, bool Ready) Read(ReadOnlySpan<byte> bytes)
    {
        _snapshots.Clear();
        bool beat = false, ready = false;
        foreach (var b in bytes)
        {
            if (_isMetrics)
            {
                if (b == (byte)'\n')
                    EndLine();
                else
                    Keep(b);
                continue;
            }
            if (b == BeatByte)
            {
                beat = true; // the runtime's beats come between lines, and are not part of them
                continue;
            }
            if (b == (byte)'\n')
            {
                beat = true;
                ready |= _line.AsSpan(0, _length).EndsWith(Ready);
                EndLine();
                continue;
            }
            Keep(b);
            if (PrefixOfMetrics())
            {
                _isMetrics = _length == MetricsPrefix.Length; // until then, undecided: no beat yet
                continue;
            }
            beat = true;
            if (_length > Ready.Length)
            {
                // Only the end of a line that is not metrics matters (for "ready"): keep its last bytes.
                _line.AsSpan(_length - Ready.Length, Ready.Length).CopyTo(_line);
                _length = Ready.Length;
            }
        }
        return (beat, ready);
    }

    private bool PrefixOfMetrics() => MetricsPrefix.AsSpan().StartsWith(_line.AsSpan(0, _length));

    private void Keep(byte b)
    {
        if (_overflowed)
            return;
        if (_isMetrics && _length >= MetricsSnapshot.MaxLineBytes)
        {
            _overflowed = true;
            _line = new byte[256]; // give the memory back: this line is lost anyway
            return;
        }
        if (_length == _line.Length)
            Array.Resize(ref _line, Math.Min(_line.Length * 2, MetricsSnapshot.MaxLineBytes + 1));
        _line[_length++] = b;
    }

    private void EndLine()
    {
        if (_isMetrics)
            AcceptMetricsLine();
        _length = 0;
        _isMetrics = _overflowed = false;
    }

    private void AcceptMetricsLine()
    {
        if (!_overflowed && MetricsSnapshot.Parse(_line.AsSpan(MetricsPrefix.Length, _length - MetricsPrefix.Length)) is { } snapshot)
            _snapshots.Add(snapshot);
        else
            Rejected++;
        if (_line.Length > 64 * 1024)
            _line = new byte[256];
    }
}
