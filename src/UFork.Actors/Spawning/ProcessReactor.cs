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
    private static readonly TimeSpan DefaultSpawnLimit = TimeSpan.FromSeconds(5);
    private static readonly object SharedGate = new();
    private static ProcessReactor? _shared;

    private readonly ConcurrentQueue<(ProcessSpec Spec, TaskCompletionSource<ChildProcess> Started)> _requests = new();
    private readonly Dictionary<int, Running> _running = new(); // by pidfd; touched by the reactor thread only
    private readonly (int Read, int Write) _wakeup;
    private readonly SpawnWatchdog _watchdog;
    private readonly int _fdReserve;
    private readonly Subreaper _subreaper = new();
    private readonly object _adoptGate = new();
    private int _orphansMayWait;
    private volatile IOException? _fault;

    private sealed record Running(ChildProcess Process, TaskCompletionSource<ExitStatus> Exited);

    /// <summary>
    /// The reactor every worker is spawned by, started on first use. A failure to start it (no fd left for
    /// its wake-up pipe) is an IOException each time it is asked for, and the next ask tries again.
    /// </summary>
    public static ProcessReactor Shared
    {
        get
        {
            lock (SharedGate)
                return _shared ??= new ProcessReactor(DefaultSpawnLimit, DescriptorBudget.DefaultReserve);
        }
    }

    /// <param name="spawnLimit">How long one posix_spawn may take before the watchdog kills its child.</param>
    /// <param name="fdReserve">File descriptors a spawn must leave free for the runtime.</param>
    internal ProcessReactor(TimeSpan spawnLimit, int fdReserve)
    {
        _wakeup = Libc.Pipe();
        if (Syscall.fcntl(_wakeup.Write, FcntlCommand.F_SETFL, (long)OpenFlags.O_NONBLOCK) < 0)
        {
            var reason = PosixError.DescribeLast();
            Libc.close(_wakeup.Read);
            Libc.close(_wakeup.Write);
            throw new IOException($"cannot start the process reactor: fcntl(O_NONBLOCK): {reason}");
        }
        _fdReserve = fdReserve;
        _watchdog = new SpawnWatchdog(spawnLimit, IsOurs);
        new Thread(Run) { IsBackground = true, Name = "ufork-process-reactor" }.Start();
    }

    /// <summary>Why the reactor stopped (it no longer sees exits), or null while it works.</summary>
    public IOException? Fault => _fault;

    /// <summary>Starts a process from the reactor thread.</summary>
    /// <exception cref="IOException">(in the task) It could not be started; the message is one line.</exception>
    public Task<ChildProcess> SpawnAsync(ProcessSpec spec)
    {
        var started = new TaskCompletionSource<ChildProcess>(TaskCreationOptions.RunContinuationsAsynchronously);
        _requests.Enqueue((spec, started));
        if (_fault is not null)
            FailRequests(); // the reactor thread is gone: nobody else will answer
        else
            Wake();
        return started.Task;
    }

    /// <summary>
    /// Makes this process the reaper of orphaned grandchildren (PR_SET_CHILD_SUBREAPER), reaps them as they
    /// die, and from now on SIGKILLs what is left of a worker's process group when the worker dies, so that
    /// nothing it started outlives it. Idempotent. For a container's PID 1 and <c>ufork.subreaper = on</c>.
    /// </summary>
    /// <exception cref="IOException">prctl failed.</exception>
    public void AdoptOrphans()
    {
        lock (_adoptGate)
            _subreaper.Enable(() =>
            {
                Interlocked.Exchange(ref _orphansMayWait, 1);
                Wake();
            });
        Interlocked.Exchange(ref _orphansMayWait, 1); // some may have died before we asked
        Wake();
    }

    /// <summary>Whether orphans are ours to reap: asked for, or we are a container's init.</summary>
    public static bool ShouldAdoptOrphans(bool subreaperSetting) => subreaperSetting || Environment.ProcessId == 1;

    private void Wake()
    {
        byte wake = 1;
        Libc.write(_wakeup.Write, &wake, 1); // EAGAIN: the full pipe holds wake-ups enough
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
            {
                var errno = Stdlib.GetLastError();
                if (errno == Errno.EINTR)
                    continue;
                Stop(new IOException(
                    $"the process reactor stopped: poll({fds.Length} fds): {PosixError.Describe(NativeConvert.FromErrno(errno))}; " +
                    "no spawn or exit can be handled any more"));
                return;
            }

            if (fds[0].revents != 0)
            {
                Libc.read(_wakeup.Read, wakeBuffer, 64);
                while (_requests.TryDequeue(out var request))
                    Start(request.Spec, request.Started);
            }
            for (var j = 1; j < fds.Length; j++)
                if (fds[j].revents != 0)
                    Reap(fds[j].fd);
            if (Interlocked.Exchange(ref _orphansMayWait, 0) == 1)
                Subreaper.ReapOrphans(IsOurs);
        }
    }

    private void Start(ProcessSpec spec, TaskCompletionSource<ChildProcess> started)
    {
        try
        {
            DescriptorBudget.Require(DescriptorBudget.NeededFor(spec), _fdReserve);
            var spawned = PosixSpawner.Spawn(spec, openPidfd: true, _watchdog);
            var exited = new TaskCompletionSource<ExitStatus>(TaskCreationOptions.RunContinuationsAsynchronously);
            var process = new ChildProcess(spawned.Pid, spawned.StdoutFd, spawned.StderrFd, exited.Task);
            _running[spawned.Pidfd] = new Running(process, exited);
            started.SetResult(process);
        }
        catch (Exception e)
        {
            started.SetException(e);
        }
    }

    private void Reap(int pidfd)
    {
        var running = _running[pidfd];
        var pid = running.Process.Pid;
        running.Process.RecordExit(DateTimeOffset.UtcNow); // the first readiness is the death
        if (_subreaper.IsOn)
            Syscall.kill(-pid, Signum.SIGKILL); // its zombie still holds the group id: this hits only its remains
        var reaped = Syscall.waitpid(pid, out var status, WaitOptions.WNOHANG);
        if (reaped == 0)
            return; // readable a moment before the zombie is reapable; poll again
        _running.Remove(pidfd);
        Libc.close(pidfd);
        // -1 means someone else in this process reaped it (waitpid(-1) in user code): the status is lost.
        running.Exited.SetResult(reaped == pid ? ExitStatus.FromWaitStatus(status) : ExitStatus.Unknown);
    }

    private bool IsOurs(int pid) => _running.Values.Any(r => r.Process.Pid == pid);

    /// <summary>Fails everything waiting on this reactor with <paramref name="fault"/>, once, without spinning.</summary>
    private void Stop(IOException fault)
    {
        _fault = fault;
        FailRequests();
        foreach (var running in _running.Values)
            running.Exited.TrySetException(fault);
    }

    private void FailRequests()
    {
        while (_requests.TryDequeue(out var request))
            request.Started.TrySetException(_fault!);
    }
}
