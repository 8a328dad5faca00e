using Akka.Actor;
using UFork.Hosting;
using UFork.Output;
using UFork.Supervision;
using UFork.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace UFork.Tests;

/// <summary>
/// The paths a person takes that are not the happy one: a restart onto a broken release, scaling in the
/// middle of a restart, a slot brought back, a boot that cannot succeed, output that outlives its process.
/// </summary>
public sealed class LifecycleTests(ITestOutputHelper output) : ArbiterTestKit(output)
{
    private readonly TempDirectory _release = new();

    /// <summary>
    /// A release that a file switches: while <c>broken</c> exists its workers exit at once, while
    /// <c>silent</c> exists they run but never say they are ready; otherwise they say so after a moment.
    /// </summary>
    private Worker.WorkerCommand Release() => Shell(
        $$"""
        cd {{_release.Path}}
        [ -e broken ] && { echo "cannot load the release"; exit 1; }
        [ -e silent ] && exec sleep 30
        sleep 0.2; printf 'ready\n' >&"$UFORK_HEARTBEAT_FD"; exec sleep 30
        """);

    private Configuration.UForkSettings ReleaseSettings(int workers) => Settings(workers) with
    {
        Heartbeat = new Configuration.HeartbeatSettings(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(2), Required: true),
    };

    private async Task<IReadOnlyList<WorkerStatus>> ReadyFleet(Arbiter arbiter, int workers) =>
        await Eventually.WaitAsync(() => arbiter.ListWorkersAsync().Result,
            w => w.Count == workers && w.All(s => s.State == WorkerState.Ready), Patience);

    [Theory]
    [InlineData("broken", "exited with status 1 before it was ready")]
    [InlineData("silent", "was not ready within 2 s (ufork.heartbeat.start-timeout) before it was ready")]
    public async Task A_rolling_restart_onto_a_release_that_does_not_come_up_is_aborted_and_the_old_workers_keep_serving(
        string fault, string reason)
    {
        var arbiter = StartArbiter(Release(), ReleaseSettings(workers: 2));
        var before = (await ReadyFleet(arbiter, 2)).Select(w => w.Pid).ToList();
        File.WriteAllText(_release.File(fault), "");

        var outcome = await arbiter.Actor.Ask<CommandDone>(new RestartWorkers(null), Patience);

        Assert.False(outcome.Ok);
        Assert.StartsWith("rolling restart aborted: w0's replacement (pid ", outcome.Message);
        Assert.Contains(reason, outcome.Message);
        Assert.Contains("w0 keeps its worker, and w1 were not restarted", outcome.Message);
        var after = await arbiter.ListWorkersAsync();
        Assert.Equal(before, after.Select(w => w.Pid));
        Assert.All(after, w => Assert.Equal(WorkerState.Ready, w.State));

        // Fixed: the next restart goes through, and is not blocked by the aborted one.
        File.Delete(_release.File(fault));
        var retry = await arbiter.Actor.Ask<CommandDone>(new RestartWorkers(null), Patience);
        Assert.True(retry.Ok, retry.Message);
        var replaced = await ReadyFleet(arbiter, 2);
        Assert.Empty(replaced.Select(w => w.Pid).Intersect(before));
    }

    [Fact]
    public async Task Scaling_down_during_a_rolling_restart_leaves_no_process_that_status_does_not_show()
    {
        var arbiter = StartArbiter(Release(), ReleaseSettings(workers: 3));
        await ReadyFleet(arbiter, 3);
        File.WriteAllText(_release.File("silent"), ""); // replacements stay starting

        var restart = arbiter.Actor.Ask<CommandDone>(new RestartWorkers(null), Patience);
        await Eventually.UntilAsync(() => arbiter.ListWorkersAsync().Result.Count == 4, Patience); // w0 and its replacement
        Assert.True((await arbiter.ScaleAsync(1)).Ok);
        File.Delete(_release.File("silent"));

        await restart;
        var settled = await Eventually.WaitAsync(() => arbiter.ListWorkersAsync().Result, w => w.Count == 1, Patience);
        Assert.Equal(0, Assert.Single(settled).Slot);
        await AssertStatusShowsEveryProcess(arbiter);
    }

    [Fact]
    public async Task A_slot_queued_at_the_start_gate_does_not_wedge_it_when_scaled_away_and_back()
    {
        var arbiter = StartArbiter(Release(), ReleaseSettings(workers: 1));
        await ReadyFleet(arbiter, 1);

        Assert.True((await arbiter.ScaleAsync(3)).Ok); // w1 starting, w2 queued behind it
        Assert.True((await arbiter.ScaleAsync(2)).Ok); // w2 leaves the queue
        Assert.True((await arbiter.ScaleAsync(3)).Ok); // and a new w2 joins it

        var fleet = await ReadyFleet(arbiter, 3);
        Assert.Equal([0, 1, 2], fleet.Select(w => w.Slot));
        await AssertStatusShowsEveryProcess(arbiter);
    }

    [Fact]
    public async Task WhenAllReadyAsync_completes_once_every_slot_is_ready_not_when_it_is_spawned()
    {
        var starts = Listen<WorkerStarted>();
        var arbiter = StartArbiter(Release(), ReleaseSettings(workers: 2));
        starts.ReceiveN(1, Patience);

        var ready = arbiter.WhenAllReadyAsync();

        Assert.False(ready.IsCompleted); // the first worker says it is ready 200 ms after its start; the second waits its turn
        await ready.WaitAsync(Patience);
        Assert.All(await arbiter.ListWorkersAsync(), w => Assert.Equal(WorkerState.Ready, w.State));
    }

    [Fact]
    public async Task Scale_brings_a_failed_slot_back()
    {
        var deaths = Listen<DeadWorker>();
        var settings = CrashLooping(Settings()) with { Restart = Settings().Restart with { MaxRetries = 0 } };
        var arbiter = StartArbiter(Shell("exit 5"), settings);
        deaths.ExpectMsg<DeadWorker>(Patience);
        await Eventually.UntilAsync(() => arbiter.ListWorkersAsync().Result.Single().State == WorkerState.Failed, Patience);

        Assert.True((await arbiter.ScaleAsync(1)).Ok);

        Assert.Equal(5, deaths.ExpectMsg<DeadWorker>(Patience).Status.Code); // it ran again
    }

    [Fact]
    public async Task Scale_refuses_more_than_max_workers()
    {
        var arbiter = StartArbiter(Shell("exec sleep 30"), Settings() with { MaxWorkers = 4 });

        var refused = await arbiter.ScaleAsync(5);

        Assert.Equal((false, "cannot scale to 5: ufork.max-workers is 4"), (refused.Ok, refused.Message));
        Assert.Single(await arbiter.ListWorkersAsync());
        Assert.Throws<ArgumentOutOfRangeException>(() => Arbiter.Start(Sys, new ArbiterOptions(Shell("true"), Settings(5) with { MaxWorkers = 4 }, Echoed, [])));
    }

    [Fact]
    public async Task Workers_that_cannot_boot_halt_the_arbiter_with_their_last_output()
    {
        var deaths = Listen<DeadWorker>();
        var arbiter = StartArbiter(Shell("echo 'cannot import app'; exit 1"), Settings(workers: 2));

        var stopped = await arbiter.Exit.WaitAsync(Patience);

        Assert.Equal(ArbiterActor.BootFailedExitCode, stopped.ExitCode);
        Assert.Contains("the workers cannot boot: 3 died in a row before becoming ready (ufork.boot.max-failures = 3)", stopped.Reason);
        Assert.Contains("exited with status 1", stopped.Reason);
        var last = deaths.ReceiveN(3, Patience).Cast<DeadWorker>().Last();
        Assert.Equal(["cannot import app"], last.LastLines);
        await arbiter.Stopped.WaitAsync(Patience);
    }

    [Fact]
    public async Task Workers_killed_from_outside_before_they_are_ready_are_not_a_boot_failure()
    {
        var starts = Listen<WorkerStarted>();
        var arbiter = StartArbiter(Shell("exec sleep 30"), Settings() with { WorkerStartSeconds = TimeSpan.FromSeconds(30) });

        for (var i = 0; i < 4; i++)
            Mono.Unix.Native.Syscall.kill(starts.ExpectMsg<WorkerStarted>(Patience).Pid, Mono.Unix.Native.Signum.SIGKILL);

        Assert.Equal(0, starts.ExpectMsg<WorkerStarted>(Patience).Slot);
        Assert.False(arbiter.Stopped.IsCompleted);
    }

    [Fact]
    public async Task A_fleet_that_served_is_not_halted_when_its_workers_later_crash()
    {
        var deaths = Listen<DeadWorker>();
        var settings = Settings() with { Restart = Settings().Restart with { MinBackoff = TimeSpan.FromMilliseconds(10), MaxBackoff = TimeSpan.FromMilliseconds(20) } };
        var arbiter = StartArbiter(Release(), ReleaseSettings(1) with { Restart = settings.Restart });
        await ReadyFleet(arbiter, 1);
        File.WriteAllText(_release.File("broken"), "");

        await arbiter.KillAsync(0);
        deaths.ReceiveN(5, Patience);

        Assert.False(arbiter.Stopped.IsCompleted);
    }

    [Fact]
    public async Task A_sink_that_throws_loses_lines_not_the_worker()
    {
        var ready = Listen<WorkerReady>();
        var deaths = Listen<DeadWorker>();
        var arbiter = StartArbiter(Shell("while :; do echo tick; sleep 0.05; done"), Settings(), new ThrowingSink());
        var pid = ready.ExpectMsg<WorkerReady>(Patience).Pid;

        deaths.ExpectNoMsg(TimeSpan.FromMilliseconds(500));

        var worker = Assert.Single(await arbiter.ListWorkersAsync());
        Assert.Equal((pid, WorkerState.Ready), (worker.Pid!.Value, worker.State));
    }

    [Fact]
    public void A_death_is_reported_after_everything_the_worker_wrote()
    {
        var deaths = Listen<DeadWorker>();
        StartArbiter(Shell("seq 1 20000; echo 'the stack trace' >&2; exit 3"), CrashLooping(Settings()));

        deaths.ExpectMsg<DeadWorker>(Patience);

        var lines = Echoed.Lines;
        Assert.Equal(20000, lines.Count(l => l.Stream == OutputStream.Stdout));
        Assert.Contains(lines, l => l is { Stream: OutputStream.Stderr, Text: "the stack trace" });
    }

    [Fact]
    public async Task A_grandchild_holding_the_pipe_neither_delays_the_death_nor_loses_its_lines()
    {
        var deaths = Listen<DeadWorker>();
        StartArbiter(Shell("(sleep 2; echo 'from the grandchild') & echo bye; exit 4"), CrashLooping(Settings()));

        var death = deaths.ExpectMsg<DeadWorker>(Patience);

        Assert.Equal(4, death.Status.Code);
        Assert.True(death.Uptime < TimeSpan.FromSeconds(1.5), $"uptime {death.Uptime}");
        await Echoed.WaitForAsync(l => l.Text == "from the grandchild", Patience);
    }

    /// <summary>Every worker process alive is in status, and every pid in status is alive.</summary>
    private async Task AssertStatusShowsEveryProcess(Arbiter arbiter)
    {
        var shown = (await arbiter.ListWorkersAsync()).Select(w => w.Pid).OfType<int>().ToHashSet();
        var running = Pids.Where(ProcessWatch.IsRunning).ToHashSet();
        Assert.True(shown.SetEquals(running), $"status shows [{string.Join(", ", shown)}], running: [{string.Join(", ", running)}]");
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _release.Dispose();
        base.Dispose(disposing);
    }

    private sealed class ThrowingSink : IOutputSink
    {
        public void WriteLines(int slot, int pid, OutputStream stream, IReadOnlyList<ReadOnlyMemory<byte>> lines) =>
            throw new InvalidOperationException("the sink is broken");

        public void WriteLine(string line)
        {
        }
    }
}
