using System.Text;

namespace UFork.Http;

/// <summary>
/// Collects whole lines and writes them in one write(2) when the batch would pass 4096 bytes or every
/// <see cref="FlushInterval"/>. A pipe write of at most PIPE_BUF (4096) bytes is atomic, so a batch never
/// interleaves with lines the app writes to the same stdout, and the arbiter always reads whole lines.
/// The flush timer runs only while lines wait, so an idle worker is not woken.
/// </summary>
internal sealed class BatchedLineWriter : IDisposable
{
    private const int PipeBuf = 4096;
    private static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(100);

    private readonly Stream _out;
    private readonly byte[] _batch = new byte[PipeBuf];
    private readonly Lock _lock = new();
    private readonly Timer _timer;
    private int _filled;

    public BatchedLineWriter(Stream destination)
    {
        _out = destination;
        _timer = new Timer(_ => Flush());
    }

    public void WriteLine(string line)
    {
        var length = Encoding.UTF8.GetByteCount(line) + 1;
        lock (_lock)
        {
            if (_filled + length > PipeBuf)
                FlushLocked();
            if (length > PipeBuf)
            {
                _out.Write(Encoding.UTF8.GetBytes(line + "\n"));
                return;
            }
            if (_filled == 0)
                _timer.Change(FlushInterval, Timeout.InfiniteTimeSpan);
            _filled += Encoding.UTF8.GetBytes(line, _batch.AsSpan(_filled));
            _batch[_filled++] = (byte)'\n';
        }
    }

    public void Flush()
    {
        lock (_lock)
            FlushLocked();
    }

    private void FlushLocked()
    {
        if (_filled == 0)
            return;
        try
        {
            _out.Write(_batch, 0, _filled);
        }
        catch (IOException)
        {
            // Nobody reads our stdout any more (the arbiter is gone): the lifeline ends this process.
        }
        _filled = 0;
    }

    public void Dispose()
    {
        _timer.Dispose();
        Flush();
    }
}
