using Mono.Unix.Native;
using UFork.Configuration;
using UFork.Supervision;
using UFork.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace UFork.Tests;

public sealed class HealthTests(ITestOutputHelper output) : ArbiterTestKit(output)
{
    private static UForkSettings Heartbeats(TimeSpan interval, TimeSpan timeout, TimeSpan? startTimeout = null, bool required = false) =>
        Settings() with
        {
            Heartbeat = new HeartbeatSettings(interval, timeout, startTimeout ?? TimeSpan.FromSeconds(30), required),
        };

    [Fact]
    public void A_worker_that_stops_heartbeating_is_killed_within_the_timeout_and_replaced()
    {
        var starts = Listen<WorkerStarted>();
        var deaths = Listen<DeadWorker>();
        var ready = Listen<WorkerReady>();
        var timeout = TimeSpan.FromMilliseconds(600);
        StartArbiter(DotNetWorker("serve"), Heartbeats(TimeSpan.FromMilliseconds(100), timeout));
        var pid = starts.ExpectMsg<WorkerStarted>(Patience).Pid;
        Assert.Equal(pid, ready.ExpectMsg<WorkerReady>(Patience).Pid); // silence counts once it is ready

        var frozenAt = DateTimeOffset.UtcNow;
        Syscall.kill(pid, Signum.SIGSTOP);

        var death = deaths.ExpectMsg<DeadWorker>(Patience);
        Assert.Equal((pid, DeathCause.Unresponsive, Signum.SIGKILL), (death.Pid, death.Cause, death.Status.Signal));
        Assert.Matches(@"^sent no heartbeat for \d+ ms \(ufork.heartbeat.timeout = 600 ms\)$", death.Reason);
        // Generous: on a loaded 2-core machine the pool and the scheduler run late (bench/health.py measures the overshoot).
        Assert.True(death.DiedAt - frozenAt < timeout + TimeSpan.FromSeconds(1),
            $"killed {(death.DiedAt - frozenAt).TotalMilliseconds:0} ms after it froze");
        Assert.Equal(0, starts.ExpectMsg<WorkerStarted>(Patience).Slot);
    }

    [Fact]
    public void A_worker_that_beats_but_never_says_it_is_ready_is_killed_at_the_start_timeout()
    {
        var starts = Listen<WorkerStarted>();
        var deaths = Listen<DeadWorker>();
        var settings = Heartbeats(TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(300), required: true);
        StartArbiter(Shell("while :; do printf . >&\"$UFORK_HEARTBEAT_FD\"; sleep 0.05; done"), settings);
        var started = starts.ExpectMsg<WorkerStarted>(Patience);

        var death = deaths.ExpectMsg<DeadWorker>(Patience);

        Assert.Equal(DeathCause.Unresponsive, death.Cause);
        Assert.Equal("was not ready within 300 ms (ufork.heartbeat.start-timeout)", death.Reason);
        Assert.False(death.WasReady);
        Assert.True((death.DiedAt - started.At).TotalMilliseconds >= 280, $"killed {(death.DiedAt - started.At).TotalMilliseconds:0} ms after it started");
    }

    [Fact]
    public async Task A_worker_in_any_language_speaks_the_protocol_and_is_killed_when_it_goes_quiet()
    {
        var deaths = Listen<DeadWorker>();
        const string python = """
            import os, sys, time
            beat = int(os.environ["UFORK_HEARTBEAT_FD"])
            os.write(beat, b"ready\n")
            for _ in range(8):
                os.write(beat, b".")
                time.sleep(0.1)
            print("going quiet", flush=True)
            time.sleep(30)
            """;
        StartArbiter(UFork.Worker.WorkerCommand.Program("python3", ["-c", python]),
            Heartbeats(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(400), required: true));

        var quiet = Echoed.WaitForAsync(l => l.Text == "going quiet", Patience);
        deaths.ExpectNoMsg(TimeSpan.FromMilliseconds(500)); // beating: kept
        var quietWorker = (await quiet).Pid;
        var death = deaths.ExpectMsg<DeadWorker>(Patience);

        Assert.Equal(quietWorker, death.Pid);
        Assert.Equal(DeathCause.Unresponsive, death.Cause);
    }

    [Fact]
    public void Workers_start_one_at_a_time_until_each_is_ready()
    {
        var starts = Listen<WorkerStarted>();
        var settings = Heartbeats(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), required: true) with { Workers = 3 };
        StartArbiter(Shell("sleep 0.3; printf 'ready\\n' >&\"$UFORK_HEARTBEAT_FD\"; exec sleep 30"), settings);

        var times = Enumerable.Range(0, 3).Select(_ => starts.ExpectMsg<WorkerStarted>(Patience).At).ToList();

        Assert.All(times.Zip(times.Skip(1), (a, b) => b - a),
            gap => Assert.True(gap >= TimeSpan.FromMilliseconds(290), $"started {gap.TotalMilliseconds:0} ms after the previous one"));
    }

    [Fact]
    public async Task Workers_that_do_not_speak_the_protocol_all_start_at_once_and_are_ready_after_start_seconds()
    {
        var starts = Listen<WorkerStarted>();
        var ready = Listen<WorkerReady>();
        var arbiter = StartArbiter(Shell("exec sleep 30"), Settings(workers: 3));

        var times = Enumerable.Range(0, 3).Select(_ => starts.ExpectMsg<WorkerStarted>(Patience).At).ToList();

        // Judged by liveness alone, they take no turns at the start gate.
        Assert.True(times.Max() - times.Min() < TimeSpan.FromSeconds(1));
        Assert.All((await arbiter.ListWorkersAsync()).Where(w => DateTimeOffset.UtcNow - w.StartedAt < TimeSpan.FromMilliseconds(250)),
            w => Assert.Equal(WorkerState.Starting, w.State));
        var readyAt = ready.ReceiveN(3, Patience).Cast<WorkerReady>().ToList();
        Assert.All(readyAt, r => Assert.True(r.At - times[0] >= TimeSpan.FromMilliseconds(290), "ready before ufork.worker.start-seconds"));
        var workers = await arbiter.ListWorkersAsync();
        Assert.All(workers, w => Assert.Equal(WorkerState.Ready, w.State));
        Assert.All(workers, w => Assert.True(w.ResidentBytes > 0));
    }

    [Fact]
    public void A_command_worker_over_its_memory_limit_is_killed_and_replaced()
    {
        var starts = Listen<WorkerStarted>();
        var deaths = Listen<DeadWorker>();
        var settings = Heartbeats(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(10)) with { WorkerMemoryLimit = 64L << 20 };
        StartArbiter(UFork.Worker.WorkerCommand.Program("python3", ["-c", "x = b'x' * (128 << 20); print('hoarding', flush=True); import time; time.sleep(30)"]),
            settings);
        starts.ExpectMsg<WorkerStarted>(Patience);

        var death = deaths.ExpectMsg<DeadWorker>(Patience);

        Assert.Equal(DeathCause.OverMemoryLimit, death.Cause);
        Assert.Contains("over ufork.worker.memory-limit (64 MiB)", death.Reason);
        Assert.Equal(0, starts.ExpectMsg<WorkerStarted>(Patience).Slot);
    }

    [Fact]
    public void A_dotnet_worker_over_its_memory_limit_exits_by_itself()
    {
        var deaths = Listen<DeadWorker>();
        var settings = Heartbeats(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(10)) with { WorkerMemoryLimit = 200L << 20 };
        StartArbiter(DotNetWorker("alloc", "400"), settings);

        var death = deaths.ExpectMsg<DeadWorker>(Patience);

        Assert.Equal((DeathCause.Exited, 75), (death.Cause, death.Status.Code));
        Assert.Contains(Echoed.Lines, l => l.Pid == death.Pid && l.Text.Contains("is over ufork.worker.memory-limit (200 MiB); exiting to be replaced"));
    }

    [Fact]
    public void The_wedge_alarm_sounds_when_most_recent_starts_time_out_and_then_keeps_quiet()
    {
        var alarm = new WedgeAlarm(TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(10));
        var now = DateTimeOffset.UtcNow;
        for (var i = 0; i < 6; i++)
            alarm.RecordStart(now);

        Assert.Null(alarm.RecordTimeout(now));
        Assert.Null(alarm.RecordTimeout(now));
        Assert.Null(alarm.RecordTimeout(now));
        Assert.StartsWith("most workers are wedging: 4 of the 6", alarm.RecordTimeout(now));
        Assert.Null(alarm.RecordTimeout(now.AddMinutes(1)));
    }
}
