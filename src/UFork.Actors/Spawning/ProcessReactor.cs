using System.Collections.Concurrent;
using Mono.Unix.Native;

namespace UFork.Spawning;

/// <summary>
/// The one long-lived thread that starts every child and learns of every exit.
/// Spawning from a single thread that never retires matters because PR_SET_PDEATHSIG fires when the
/// spawning *thread* exits, not the process. Exits arrive as readable pidfds in one poll(2) call, so
/// nothing polls on a timer and a death is known within a millisecond or two.
/// </summary>
internal sealed unsafe class ProcessReactor
{
    public static ProcessReactor Shared { get; } = new();

    private readonly ConcurrentQueue<(ProcessSpec Spec, TaskCompletionSource<ChildProcess> Started)> _requests = new();
    private readonly Dictionary<int, (int Pid, TaskCompletionSource<ExitStatus> Exited)> _running = new(); // by pidfd
    private readonly (int Read, int Write) _wakeup = Libc.Pipe();

    private ProcessReactor()
    {
        new Thread(Run) { IsBackground = true, Name = "ufork-process-reactor" }.Start();
    }

    public Task<ChildProcess> SpawnAsync(ProcessSpec spec)
    {
        var started = new TaskCompletionSource<ChildProcess>(TaskCreationOptions.RunContinuationsAsynchronously);
        _requests.Enqueue((spec, started));
        byte wake = 1;
        Libc.write(_wakeup.Write, &wake, 1);
        return started.Task;
    }

    private void Run()
    {
        var wakeBuffer = stackalloc byte[64];
        while (true)
        {
            var fds = new Pollfd[_running.Count + 1];
            fds[0] = new Pollfd { fd = _wakeup.Read, events = PollEvents.POLLIN };
            var i = 1;
            foreach (var pidfd in _running.Keys)
                fds[i++] = new Pollfd { fd = pidfd, events = PollEvents.POLLIN };

            if (Syscall.poll(fds, -1) < 0)
                continue; // EINTR

            if (fds[0].revents != 0)
            {
                Libc.read(_wakeup.Read, wakeBuffer, 64);
                while (_requests.TryDequeue(out var request))
                    Start(request.Spec, request.Started);
            }
            for (var j = 1; j < fds.Length; j++)
                if (fds[j].revents != 0)
                    Reap(fds[j].fd);
        }
    }

    private void Start(ProcessSpec spec, TaskCompletionSource<ChildProcess> started)
    {
        try
        {
            var spawned = PosixSpawner.Spawn(spec);
            var pidfd = Libc.PidfdOpen(spawned.Pid);
            var exited = new TaskCompletionSource<ExitStatus>(TaskCreationOptions.RunContinuationsAsynchronously);
            _running[pidfd] = (spawned.Pid, exited);
            started.SetResult(new ChildProcess(spawned.Pid, spawned.StdoutFd, spawned.StderrFd, exited.Task));
        }
        catch (Exception e)
        {
            started.SetException(e);
        }
    }

    private void Reap(int pidfd)
    {
        var (pid, exited) = _running[pidfd];
        var reaped = Syscall.waitpid(pid, out var status, WaitOptions.WNOHANG);
        if (reaped == 0)
            return; // readable a moment before the zombie is reapable; poll again
        _running.Remove(pidfd);
        Libc.close(pidfd);
        // -1 means someone else in this process reaped it (waitpid(-1) in user code): the status is lost.
        exited.SetResult(reaped == pid ? ExitStatus.FromWaitStatus(status) : ExitStatus.Unknown);
    }
}
