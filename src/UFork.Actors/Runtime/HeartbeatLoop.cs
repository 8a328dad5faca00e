namespace UFork.Runtime;

/// <summary>
/// A .NET worker's heartbeats, sent from the thread pool so that they prove the app can still run its
/// work: the timer's tick and the beat after it are work items like any request's, so a pool whose every
/// thread is blocked (starved, or deadlocked on each other) beats no more, and the arbiter replaces the
/// worker. Before each beat the worker checks itself (<see cref="SelfCheck"/>) and asks the app's
/// <see cref="WorkerContext.HealthProbe"/>. The first beat comes one interval after the runtime starts,
/// by when the post-fork function is running.
/// </summary>
internal sealed class HeartbeatLoop(HeartbeatPipe pipe, WorkerContext worker, TimeSpan interval, long memoryLimit)
{
    private bool _probeFailing;

    /// <summary>Beats until a self-check fails, whose reason it returns, or the arbiter closes the pipe (null).</summary>
    public async Task<string?> RunAsync()
    {
        using var timer = new PeriodicTimer(interval);
        while (await timer.WaitForNextTickAsync())
        {
            if (SelfCheck.Violation(memoryLimit) is { } violation)
                return violation;
            if (ProbeSaysHealthy() && !pipe.TryBeat())
                return null;
        }
        return null;
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
