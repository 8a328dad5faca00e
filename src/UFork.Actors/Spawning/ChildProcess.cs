using System.IO.Pipes;
using Microsoft.Win32.SafeHandles;
using Mono.Unix.Native;

namespace UFork.Spawning;

/// <summary>
/// The arbiter's handle on one started process: its pid, the read ends of its stdout and stderr, and a
/// task that completes with its exit status once it has been reaped.
/// </summary>
public sealed class ChildProcess
{
    private long _exitedAtTicks;

    internal ChildProcess(int pid, int stdoutFd, int stderrFd, Task<ExitStatus> exited)
    {
        Pid = pid;
        Stdout = ReadEnd(stdoutFd);
        Stderr = ReadEnd(stderrFd);
        Exited = exited;
        StartedAt = DateTimeOffset.UtcNow;
    }

    /// <summary>The process id; it leads a process group of the same number.</summary>
    public int Pid { get; }

    /// <summary>The read end of its stdout pipe.</summary>
    public Stream Stdout { get; }

    /// <summary>The read end of its stderr pipe.</summary>
    public Stream Stderr { get; }

    /// <summary>Completes with the exit status once the process has been reaped.</summary>
    public Task<ExitStatus> Exited { get; }

    /// <summary>When posix_spawn returned.</summary>
    public DateTimeOffset StartedAt { get; }

    /// <summary>
    /// When the process died (its pidfd became readable), set before <see cref="Exited"/> completes; null while
    /// it runs. Uptime ends here, not when the death is reported: a grandchild holding the output pipe open
    /// delays the report, not the death.
    /// </summary>
    public DateTimeOffset? ExitedAt
    {
        get
        {
            var ticks = Interlocked.Read(ref _exitedAtTicks);
            return ticks == 0 ? null : new DateTimeOffset(ticks, TimeSpan.Zero);
        }
    }

    public bool HasExited => Exited.IsCompleted;

    /// <summary>
    /// Signals the process's whole group (it leads its own), so a shell wrapper's children
    /// hear it too. Does nothing once the process has been reaped: its pid may belong to another by then.
    /// </summary>
    public void Signal(Signum signal)
    {
        if (!HasExited)
            Syscall.kill(-Pid, signal);
    }

    internal void RecordExit(DateTimeOffset at) => Interlocked.CompareExchange(ref _exitedAtTicks, at.UtcTicks, 0);

    /// <summary>A pipe stream reads asynchronously through epoll on Linux: no thread waits per pipe.</summary>
    internal static Stream ReadEnd(int fd) =>
        new AnonymousPipeClientStream(PipeDirection.In, new SafePipeHandle(fd, ownsHandle: true));
}
