using Mono.Unix.Native;

namespace UFork.Spawning;

/// <summary>
/// glibc's posix_spawn uses vfork: the spawning thread waits until the child calls exec. A child stopped
/// before that (a job-control signal such as SIGTSTP sent to the arbiter's process group before the child's
/// setpgid) would hold the reactor thread forever. When a spawn has not returned within the limit, this
/// finds the child among the spawning thread's children and SIGKILLs it, which lets posix_spawn return.
/// A timer, armed for the length of each spawn, rather than a thread that looks.
/// </summary>
internal sealed class SpawnWatchdog
{
    private readonly TimeSpan _limit;
    private readonly Func<int, bool> _isKnownChild;
    private readonly Timer _timer;
    private readonly object _gate = new();
    private int _spawningThread;
    private bool _inFlight;
    private string? _verdict;

    /// <param name="limit">How long one posix_spawn call may take.</param>
    /// <param name="isKnownChild">
    /// True for a child the spawning thread started earlier. Called only while that thread is inside
    /// posix_spawn, so it reads the thread's state without a race.
    /// </param>
    public SpawnWatchdog(TimeSpan limit, Func<int, bool> isKnownChild)
    {
        _limit = limit;
        _isKnownChild = isKnownChild;
        _timer = new Timer(_ => Expire(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Called by the spawning thread just before posix_spawn.</summary>
    public void Begin()
    {
        lock (_gate)
        {
            _spawningThread = Libc.gettid();
            _inFlight = true;
            _verdict = null;
        }
        _timer.Change(_limit, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Called by the spawning thread once posix_spawn returned: why the child was killed, or null.</summary>
    public string? End()
    {
        _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        lock (_gate)
        {
            _inFlight = false;
            return _verdict;
        }
    }

    private void Expire()
    {
        lock (_gate)
        {
            if (!_inFlight || _verdict is not null)
                return;
            var stuck = ChildrenOf(_spawningThread).Where(pid => !_isKnownChild(pid)).ToList();
            var killed = stuck.Where(pid => Syscall.kill(pid, Signum.SIGKILL) == 0).ToList();
            if (killed.Count > 0)
                _verdict = $"pid {string.Join(", ", killed)} had not reached exec after {_limit.TotalSeconds:0.#} s " +
                           "(stopped or blocked inside posix_spawn, e.g. by a SIGTSTP to the arbiter's process group); " +
                           "the spawn watchdog killed it";
        }
    }

    /// <summary>The children a thread started (each thread of a process has its own list).</summary>
    private static IEnumerable<int> ChildrenOf(int tid)
    {
        string children;
        try
        {
            children = File.ReadAllText($"/proc/self/task/{tid}/children");
        }
        catch (IOException)
        {
            return [];
        }
        return children.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse);
    }
}
