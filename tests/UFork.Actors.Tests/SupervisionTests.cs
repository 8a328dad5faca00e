using Akka.Actor;
using Mono.Unix.Native;
using UFork.Supervision;
using UFork.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace UFork.Tests;

public sealed class SupervisionTests(ITestOutputHelper output) : ArbiterTestKit(output)
{
    [Fact]
    public async Task A_killed_worker_is_replaced_in_the_same_slot()
    {
        var starts = Listen<WorkerStarted>();
        var deaths = Listen<DeadWorker>();
        var arbiter = StartArbiter(Shell("echo up; exec sleep 30"), Settings(workers: 2));
        var first = new[] { starts.ExpectMsg<WorkerStarted>(Patience), starts.ExpectMsg<WorkerStarted>(Patience) };
        var victim = first.Single(s => s.Slot == 1);

        var done = await arbiter.KillAsync(1);

        Assert.True(done.Ok, done.Message);
        var death = deaths.ExpectMsg<DeadWorker>(Patience);
        Assert.Equal((1, victim.Pid, Signum.SIGKILL), (death.Slot, death.Pid, death.Status.Signal));
        var replacement = starts.ExpectMsg<WorkerStarted>(Patience);
        Assert.Equal(1, replacement.Slot);
        Assert.NotEqual(victim.Pid, replacement.Pid);
        var workers = await arbiter.ListWorkersAsync();
        Assert.Equal([0, 1], workers.Select(w => w.Slot));
        Assert.Equal(1, workers.Single(w => w.Slot == 1).Restarts);
    }

    [Fact]
    public void Restart_delays_grow_while_a_worker_keeps_crashing()
    {
        var starts = Listen<WorkerStarted>();
        var settings = CrashLooping(Settings()) with
        {
            Restart = new RestartPolicy(TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(400), TimeSpan.FromMinutes(1), -1),
        };
        StartArbiter(Shell("exit 1"), settings);

        var times = Enumerable.Range(0, 7).Select(_ => starts.ExpectMsg<WorkerStarted>(Patience).At).ToList();
        var gaps = times.Zip(times.Skip(1), (a, b) => (b - a).TotalMilliseconds).ToList();

        // Each gap is the backoff plus the life of `sh -c 'exit 1'` and scheduling: at least the backoff.
        // (That the delays stop at max-backoff is the policy's own test: wall clocks on a loaded machine are no judge.)
        double[] backoffs = [0, 50, 100, 200, 400, 400];
        var shown = string.Join(", ", gaps.Select(g => $"{g:0}"));
        // Against the 400 ms gap, not the 100 ms one: a loaded machine can take 150 ms to spawn `sh`.
        Assert.True(gaps[0] < gaps[4] - 200, $"the first restart should not wait: {shown}");
        for (var i = 1; i < backoffs.Length; i++)
            Assert.True(gaps[i] >= backoffs[i] * 0.95, $"gap {i} should be at least {backoffs[i]} ms: {shown}");
    }

    [Fact]
    public void A_stable_run_resets_the_backoff()
    {
        var starts = Listen<WorkerStarted>();
        var settings = CrashLooping(Settings()) with
        {
            Restart = new RestartPolicy(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(200), -1),
        };
        StartArbiter(Shell("sleep 0.3; exit 1"), settings);

        var times = Enumerable.Range(0, 4).Select(_ => starts.ExpectMsg<WorkerStarted>(Patience).At).ToList();
        var gaps = times.Zip(times.Skip(1), (a, b) => (b - a).TotalMilliseconds).ToList();

        // Each run outlasts reset-after, so no restart waits the 2 s min-backoff.
        Assert.All(gaps, gap => Assert.True(gap < 1500, $"restarted without backoff: {string.Join(", ", gaps)}"));
    }

    [Fact]
    public async Task A_slot_given_up_after_max_retries_stays_visible_as_failed_and_restart_brings_it_back()
    {
        var deaths = Listen<DeadWorker>();
        var starts = Listen<WorkerStarted>();
        var settings = CrashLooping(Settings()) with
        {
            Restart = new RestartPolicy(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(20), TimeSpan.FromMinutes(1), 2),
        };
        var arbiter = StartArbiter(Shell("exit 2"), settings);

        for (var i = 0; i < 3; i++)
            deaths.ExpectMsg<DeadWorker>(Patience);
        deaths.ExpectNoMsg(TimeSpan.FromMilliseconds(300));

        var history = await arbiter.DeadWorkersAsync();
        Assert.Equal(3, history.Count);
        Assert.All(history, d => Assert.Equal(2, d.Status.Code));
        var failed = Assert.Single(await arbiter.ListWorkersAsync());
        Assert.Equal((0, WorkerState.Failed, (int?)null), (failed.Slot, failed.State, failed.Pid));
        Assert.Contains("3 consecutive failures", failed.FailedBecause);
        Assert.Contains("exited with status 2", failed.FailedBecause);

        starts.ReceiveN(3, Patience);
        var revived = await arbiter.Actor.Ask<CommandDone>(new RestartWorkers(0), Patience);
        Assert.True(revived.Ok, revived.Message);
        Assert.Equal(0, starts.ExpectMsg<WorkerStarted>(Patience).Slot);
        Assert.Equal(2, deaths.ExpectMsg<DeadWorker>(Patience).Status.Code);
    }

    [Fact]
    public async Task Scaling_adds_and_removes_workers()
    {
        var starts = Listen<WorkerStarted>();
        var arbiter = StartArbiter(Shell("exec sleep 30"), Settings(workers: 1));
        starts.ExpectMsg<WorkerStarted>(Patience);

        Assert.True((await arbiter.ScaleAsync(3)).Ok);
        starts.ExpectMsg<WorkerStarted>(Patience);
        starts.ExpectMsg<WorkerStarted>(Patience);
        Assert.Equal([0, 1, 2], (await arbiter.ListWorkersAsync()).Select(w => w.Slot));

        Assert.True((await arbiter.ScaleAsync(1)).Ok);
        var remaining = await Eventually.WaitAsync(() => arbiter.ListWorkersAsync().Result, w => w.Count == 1, Patience);
        Assert.Equal([0], remaining.Select(w => w.Slot));
        Assert.False((await arbiter.ScaleAsync(0)).Ok);
    }

    [Fact]
    public async Task A_rolling_restart_replaces_one_slot_at_a_time_starting_each_replacement_first()
    {
        var events = CreateTestProbe();
        Sys.EventStream.Subscribe(events, typeof(WorkerStarted));
        Sys.EventStream.Subscribe(events, typeof(DeadWorker));
        var ready = Listen<WorkerReady>();
        var arbiter = StartArbiter(Shell("exec sleep 30"), Settings(workers: 2));
        var original = new[] { events.ExpectMsg<WorkerStarted>(Patience), events.ExpectMsg<WorkerStarted>(Patience) }
            .ToDictionary(s => s.Slot, s => s.Pid);
        ready.ReceiveN(2, Patience);
        Sys.EventStream.Subscribe(events, typeof(WorkerReady));

        var done = await arbiter.Actor.Ask<CommandDone>(new RestartWorkers(null), Patience);

        Assert.True(done.Ok, done.Message);
        var sequence = Enumerable.Range(0, 6).Select(_ => events.ExpectMsg<object>(Patience)).Select(e => e switch
        {
            WorkerStarted s => $"start w{s.Slot}",
            WorkerReady r => $"ready w{r.Slot}",
            DeadWorker d => $"{d.Cause} w{d.Slot} {(d.Pid == original[d.Slot] ? "old" : "new")}",
            _ => e.ToString(),
        }).ToList();
        Assert.Equal(["start w0", "ready w0", "Stopped w0 old", "start w1", "ready w1", "Stopped w1 old"], sequence);
        var workers = await arbiter.ListWorkersAsync();
        Assert.Equal([0, 1], workers.Select(w => w.Slot));
        Assert.DoesNotContain(workers, w => original.ContainsValue(w.Pid!.Value));
    }

    [Fact]
    public async Task A_fast_shutdown_does_not_wait_for_the_grace_period()
    {
        var starts = Listen<WorkerStarted>();
        var settings = Settings() with { ShutdownGrace = TimeSpan.FromSeconds(30) };
        var arbiter = StartArbiter(Shell("trap '' TERM; echo up; while :; do sleep 0.05; done"), settings);
        starts.ExpectMsg<WorkerStarted>(Patience);
        await Echoed.WaitForAsync(l => l.Text == "up", Patience);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await arbiter.Actor.Ask<ShutdownComplete>(new Shutdown(Fast: true), Patience);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"took {clock.Elapsed}");
    }
}
