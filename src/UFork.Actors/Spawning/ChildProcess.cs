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
    internal ChildProcess(int pid, int stdoutFd, int stderrFd, Task<ExitStatus> exited)
    {
        Pid = pid;
        Stdout = ReadEnd(stdoutFd);
        Stderr = ReadEnd(stderrFd);
        Exited = exited;
        StartedAt = DateTimeOffset.UtcNow;
    }

    public int Pid { get; }
    public Stream Stdout { get; }
    public Stream Stderr { get; }
    public Task<ExitStatus> Exited { get; }
    public DateTimeOffset StartedAt { get; }
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

    /// <summary>A pipe stream reads asynchronously through epoll on Linux: no thread waits per pipe.</summary>
    internal static Stream ReadEnd(int fd) =>
        new AnonymousPipeClientStream(PipeDirection.In, new SafePipeHandle(fd, ownsHandle: true));
}
