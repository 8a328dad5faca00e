namespace UFork.Runtime;

/// <summary>
/// A .NET worker's heartbeats, sent from the thread pool so that they prove the app can still run its
/// work: each beat is a work item in the pool's global queue, like a request's, so a pool whose every
/// thread is blocked (starved, or deadlocked on each other) beats no more, and the arbiter replaces the
/// worker. Before each beat the worker checks itself (<see cref="SelfCheck"/>) and asks the app's
/// <see cref="WorkerContext.HealthProbe"/>. The first beat comes one interval after the runtime starts,
/// by when the post-fork function is running.
/// </summary>
internal sealed class HeartbeatLoop(HeartbeatPipe pipe, WorkerContext worker, TimeSpan interval, long memoryLimit)
{
    private bool _probeFailing;
    private string? _violation;
    private bool _pipeClosed;

    /// <summary>Beats until a self-check fails, whose reason it returns, or the arbiter closes the pipe (null).</summary>
    public async Task<string?> RunAsync()
    {
        using var timer = new PeriodicTimer(interval);
        while (await timer.WaitForNextTickAsync())
        {
            // Timers fire from a queue that pool threads serve before any other work, and the tick's
            // continuation runs next on the same thread: a pool that adds a thread to a starved app would
            // beat each time. The beat waits instead at the back of the global queue, behind the app's work.
            await Task.Factory.StartNew(BeatOnce, CancellationToken.None, TaskCreationOptions.PreferFairness, TaskScheduler.Default);
            if (_violation is not null)
                return _violation;
            if (_pipeClosed)
                return null;
        }
        return null;
    }

    private void BeatOnce()
    {
        _violation = SelfCheck.Violation(memoryLimit);
        if (_violation is null && ProbeSaysHealthy())
            _pipeClosed = !pipe.TryBeat();
    }

    /// <summary>Says so on stderr when the probe starts failing and when it passes again, not on every beat.</summary>
    private bool ProbeSaysHealthy()
    {
        if (worker.HealthProbe is not { } probe)
            return true;
        string? failure;
        try
        {
            failure = probe() ? null : "returned false";
        }
        catch (Exception e)
        {
            failure = $"threw {e.GetType().Name}: {e.Message}";
        }
        if (failure is not null != _probeFailing)
        {
            _probeFailing = failure is not null;
            Console.Error.WriteLine(_probeFailing
                ? $"worker {worker.WorkerId}: health probe {failure}; withholding heartbeats"
                : $"worker {worker.WorkerId}: health probe passes again; heartbeats resume");
        }
        return failure is null;
    }
}
