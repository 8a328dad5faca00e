using System.Text;
using Microsoft.Win32.SafeHandles;

namespace UFork.Runtime;

/// <summary>
/// The write end of a worker's heartbeat pipe (<c>UFORK_HEARTBEAT_FD</c>): beats, the ready message once, and
/// metrics lines. Beats and the ready message are single writes of fewer than PIPE_BUF bytes, which the kernel
/// never interleaves with another; a metrics line may be longer, and the lock keeps this process's beats out
/// of it (and is needed anyway: .NET does not promise that a stream is safe to use concurrently).
/// </summary>
internal sealed class HeartbeatPipe
{
    private static readonly byte[] Beat = [1];
    private static readonly byte[] ReadyMessage = Encoding.ASCII.GetBytes(WorkerEnvironment.ReadyMessage);

    private readonly FileStream _pipe;
    private readonly Lock _writing = new();
    private int _readySent;

    public HeartbeatPipe(int fd) =>
        _pipe = new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Write, bufferSize: 0);

    /// <summary>One beat; false once the arbiter has closed its end.</summary>
    public bool TryBeat() => TryWrite(Beat);

    /// <summary>Writes the ready message the first time it is called, and nothing after.</summary>
    public void SendReady()
    {
        if (Interlocked.Exchange(ref _readySent, 1) == 0)
            TryWrite(ReadyMessage);
    }

    /// <summary>Writes one whole metrics line; false once the arbiter has closed its end.</summary>
    public bool TrySend(byte[] metricsLine) => TryWrite(metricsLine);

    private bool TryWrite(byte[] message)
    {
        lock (_writing)
        {
            try
            {
                _pipe.Write(message);
                return true;
            }
            catch (IOException)
            {
                // EPIPE: the arbiter is gone or gave up on this worker; the lifeline ends the process.
                return false;
            }
        }
    }
}
