using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor.Dsl;
using Akka.Event;
using Mono.Unix.Native;
using UFork.Hosting;
using UFork.Output;
using UFork.Supervision;
using UFork.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace UFork.Tests;

public sealed class ShutdownTests(ITestOutputHelper output) : ArbiterTestKit(output)
{
    [Fact]
    public async Task Stop_terminates_every_worker_and_leaves_no_process()
    {
        var starts = Listen<WorkerStarted>();
        var hookRan = false;
        var arbiter = StartArbiter(Shell("exec sleep 30"), Settings(workers: 3), parentPreStop: () =>
        {
            hookRan = true;
            return Task.CompletedTask;
        });
        var pids = Enumerable.Range(0, 3).Select(_ => starts.ExpectMsg<WorkerStarted>(Patience).Pid).ToList();

        await arbiter.StopAsync().WaitAsync(Patience);

        Assert.True(hookRan);
        Assert.All(pids, pid => Assert.False(ProcessWatch.Exists(pid), $"pid {pid} survived"));
        var history = await Task.FromResult(arbiter.Stopped.IsCompleted);
        Assert.True(history);
    }

    [Fact]
    public async Task Stop_publishes_no_dead_letter()
    {
        var starts = Listen<WorkerStarted>();
        var deadLetters = Listen<DeadLetter>();
        var arbiter = StartArbiter(Shell("exec sleep 30"), Settings(workers: 2));
        starts.ExpectMsg<WorkerStarted>(Patience);
        starts.ExpectMsg<WorkerStarted>(Patience);

        await arbiter.StopAsync().WaitAsync(Patience);

        // Anything the stop sent to an actor already gone is published before StopAsync returns, or just after.
        deadLetters.ExpectNoMsg(TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Stop_of_an_arbiter_in_a_system_of_its_own_publishes_no_dead_letter()
    {
        var arbiter = Arbiter.Start(new ArbiterOptions(Shell("echo up; exec sleep 30"), Settings(workers: 2), Echoed, []));
        var deadLetters = new ConcurrentQueue<DeadLetter>();
        var listener = arbiter.System.ActorOf(act => act.Receive<DeadLetter>((letter, _) => deadLetters.Enqueue(letter)));
        arbiter.System.EventStream.Subscribe(listener, typeof(DeadLetter));
        await Eventually.UntilAsync(() => Echoed.Lines.Count(l => l.Text == "up") == 2, Patience);

        await arbiter.StopAsync().WaitAsync(Patience);

        Assert.Empty(deadLetters.Select(letter => letter.ToString()));
    }

    [Fact]
    public async Task A_signal_command_leaves_no_dead_letter_for_its_reply()
    {
        var deadLetters = Listen<DeadLetter>();
        var ready = Listen<WorkerReady>();
        var arbiter = StartArbiter(Shell("echo up; exec sleep 30"), Settings(workers: 1));
        var first = await Echoed.WaitForAsync(l => l.Text == "up", Patience);
        ready.ExpectMsg<WorkerReady>(Patience); // a rolling restart replaces ready workers only
        using var signals = new SignalDoor();
        signals.Attach(arbiter.Actor);

        // HUP, not TERM: Akka runs CoordinatedShutdown on TERM, for every ActorSystem of the test process.
        Syscall.kill(Environment.ProcessId, Signum.SIGHUP);
        await Echoed.WaitForAsync(l => l.Text == "up" && l.Pid != first.Pid, Patience);

        deadLetters.ExpectNoMsg(TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task A_worker_ignoring_SIGTERM_is_killed_when_the_grace_period_ends()
    {
        var starts = Listen<WorkerStarted>();
        var deaths = Listen<DeadWorker>();
        var settings = Settings() with { ShutdownGrace = TimeSpan.FromMilliseconds(500) };
        var arbiter = StartArbiter(Shell("trap '' TERM; echo up; while :; do sleep 0.05; done"), settings);
        starts.ExpectMsg<WorkerStarted>(Patience);
        await Echoed.WaitForAsync(l => l.Text == "up", Patience);

        var clock = Stopwatch.StartNew();
        await arbiter.StopAsync().WaitAsync(Patience);

        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(450), TimeSpan.FromSeconds(3));
        Assert.Equal(Signum.SIGKILL, deaths.ExpectMsg<DeadWorker>(Patience).Status.Signal);
    }

    [Fact]
    public async Task A_dotnet_worker_runs_its_pre_exit_hook_when_told_to_stop()
    {
        using var dir = new TempDirectory();
        Environment.SetEnvironmentVariable("UFORK_TEST_PRE_EXIT_DIR", dir.Path);
        try
        {
            var starts = Listen<WorkerStarted>();
            var arbiter = StartArbiter(DotNetWorker("serve"), Settings(workers: 1));
            var pid = starts.ExpectMsg<WorkerStarted>(Patience).Pid;
            var ready = await Echoed.WaitForAsync(l => l.Text.StartsWith("ready"), Patience);

            await arbiter.StopAsync().WaitAsync(Patience);

            Assert.Equal($"ready 0 {pid} 0", ready.Text);
            Assert.True(File.Exists(dir.File($"{pid}.exited")), "the child-pre-exit hook did not run");
        }
        finally
        {
            Environment.SetEnvironmentVariable("UFORK_TEST_PRE_EXIT_DIR", null);
        }
    }

    [Fact]
    public async Task A_failure_of_the_echo_while_stopping_does_not_make_the_slot_forget_the_stop()
    {
        var sink = new FailingOnceSink(Echoed);
        var settings = Settings() with { ShutdownGrace = TimeSpan.FromMilliseconds(500) };
        var arbiter = StartArbiter(Shell("trap '' TERM; while :; do echo tick; sleep 0.02; done"), settings, sink);
        await Echoed.WaitForAsync(l => l.Text == "tick", Patience);

        var stopping = arbiter.StopAsync();
        await Eventually.UntilAsync(() => arbiter.Workers.All(w => w.State == WorkerState.Stopping), Patience);
        sink.FailNextWrite();
        await stopping.WaitAsync(Patience);

        Assert.True(sink.Failed);
        Assert.True(arbiter.Stopped.IsCompleted);
    }

    /// <summary>An echo that throws once when told to, as a broken destination might.</summary>
    private sealed class FailingOnceSink(IOutputSink inner) : IOutputSink
    {
        private int _armed;

        public bool Failed { get; private set; }

        public void FailNextWrite() => Interlocked.Exchange(ref _armed, 1);

        public void WriteLines(int slot, int pid, OutputStream stream, IReadOnlyList<ReadOnlyMemory<byte>> lines)
        {
            if (Interlocked.Exchange(ref _armed, 0) == 1)
            {
                Failed = true;
                throw new IOException("the echo broke");
            }
            inner.WriteLines(slot, pid, stream, lines);
        }

        public void WriteLine(string line) => inner.WriteLine(line);
    }
}
