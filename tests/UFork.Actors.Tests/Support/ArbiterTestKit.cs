using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Actor.Dsl;
using UFork.Configuration;
using UFork.Hosting;
using UFork.Output;
using UFork.Supervision;
using UFork.Worker;
using Xunit;
using Xunit.Abstractions;

namespace UFork.Tests.Support;

/// <summary>
/// A TestKit that starts arbiters over real processes, records their output, remembers the pid of
/// every worker it caused (from the <see cref="WorkerStarted"/> events), and at the end stops every
/// arbiter and fails the test if any of those processes is still there.
/// </summary>
public abstract class ArbiterTestKit : Akka.TestKit.Xunit2.TestKit, IAsyncLifetime
{
    protected static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    // TestKit's ExpectMsg blocks a pool thread per waiting test; on 2 cores the pool would otherwise
    // grow a thread or two a second, and every Akka timer would fire late.
    static ArbiterTestKit() => ThreadPool.SetMinThreads(32, 32);

    private readonly ConcurrentBag<int> _pids = [];
    private readonly List<Arbiter> _arbiters = [];

    protected ArbiterTestKit(ITestOutputHelper output) : base("""
        akka.loglevel = INFO
        # Covers the test arbiters' grace period, as an application embedding one would set it.
        akka.coordinated-shutdown.phases.before-service-unbind.timeout = 10s
        """, output: output)
    {
        var tracker = Sys.ActorOf(act => act.Receive<WorkerStarted>((started, _) => _pids.Add(started.Pid)));
        Sys.EventStream.Subscribe(tracker, typeof(WorkerStarted));
    }

    protected RecordingSink Echoed { get; } = new();

    protected IReadOnlyCollection<int> Pids => _pids;

    /// <summary>Short waits: a silent command counts as ready after 300 ms instead of 1 s.</summary>
    protected static UForkSettings Settings(int workers = 1) => UForkSettings.Default with
    {
        Workers = workers,
        ShutdownGrace = TimeSpan.FromSeconds(2),
        WorkerStartSeconds = TimeSpan.FromMilliseconds(300),
    };

    /// <summary>For tests of crash loops: a worker that never comes up would otherwise halt the arbiter as a boot failure.</summary>
    protected static UForkSettings CrashLooping(UForkSettings settings) => settings with { BootMaxFailures = int.MaxValue };

    protected static WorkerCommand Shell(string script) => WorkerCommand.Program("/bin/sh", ["-c", script]);

    /// <summary>The test worker program, a .NET worker speaking uFork's protocol.</summary>
    protected static WorkerCommand DotNetWorker(params string[] arguments) =>
        WorkerCommand.Program("dotnet", [Path.Combine(AppContext.BaseDirectory, "UFork.TestWorker.dll"), .. arguments])
        with { IsUForkRuntime = true };

    /// <summary>Subscribes a probe to an event-stream event before anything is started.</summary>
    protected Akka.TestKit.TestProbe Listen<T>()
    {
        var probe = CreateTestProbe();
        Sys.EventStream.Subscribe(probe, typeof(T));
        return probe;
    }

    protected Arbiter StartArbiter(WorkerCommand command, UForkSettings settings, Func<Task>? parentPreStop = null) =>
        StartArbiter(command, settings, Echoed, parentPreStop);

    protected Arbiter StartArbiter(WorkerCommand command, UForkSettings settings, IOutputSink output, Func<Task>? parentPreStop = null)
    {
        var arbiter = Arbiter.Start(Sys, new ArbiterOptions(command, settings, output, [], parentPreStop), $"arbiter-{_arbiters.Count}");
        _arbiters.Add(arbiter);
        return arbiter;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var arbiter in _arbiters)
            await arbiter.StopAsync().WaitAsync(Patience);
        await ProcessWatch.AssertAllGoneAsync(_pids, TimeSpan.FromSeconds(5));
    }
}
