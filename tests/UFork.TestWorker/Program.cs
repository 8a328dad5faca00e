using Microsoft.AspNetCore.Builder;
using UFork.Configuration;
using UFork.Hosting;
using UFork.Http;
using UFork.Prompt;
using UFork.Runtime;
using UFork.Worker;

// usage: UFork.TestWorker <behaviour> [argument]
//   serve [N]     print "ready <slot> <pid> <slot>", call worker.Ready(), then wait to be stopped (N: workers, default 2)
//   never-ready   print "running <slot> <pid>", never call worker.Ready(), wait to be stopped
//   slow-ready MS print "running ...", after MS ms call worker.Ready() from 4 threads at once, print "ready ..."
//   starve        print "ready ...", call worker.Ready(), then after 1 s print "starving" and block every
//                 thread-pool thread (and each one the pool adds) until stopped: heartbeats must stop
//   deadlock      with a health probe that takes two locks: print "ready ...", call worker.Ready(), then after
//                 1 s print "deadlocked" and deadlock two threads on those locks: the probe hangs, beats stop
//   crash         print "ready ...", then throw before calling worker.Ready() (exit EX_SOFTWARE)
//   alloc MB      print "ready ...", allocate and touch MB megabytes, call worker.Ready(), and wait
//   http          serve "hello from worker <slot>" with UForkHttp on the inherited sockets (Ready once listening)
//   interactive DLL TYPE   be a REPL: Arbiter.RunInteractiveAsync over 2 workers of DLL's TYPE.Run, then,
//                          back from it, read one line from stdin and print it
// UFORK_TEST_PRE_EXIT_DIR, when set, makes the child-pre-exit hook write <dir>/<pid>.exited.
var behaviour = args.ElementAtOrDefault(0) ?? "serve";
if (behaviour == "interactive")
{
    var code = await Arbiter.RunInteractiveAsync(WorkerCommand.EntryPoint(args[1], args[2]), UForkSettings.Default with { Workers = 2 }, new UForkPrompt());
    Console.WriteLine($"back at the REPL, arbiter exit code {code}");
    Console.WriteLine($"read: {Console.ReadLine()}");
    return 0;
}
var workers = behaviour == "serve" && int.TryParse(args.ElementAtOrDefault(1), out var n) ? n : 2;
var settings = UForkSettings.Default with { Workers = workers, ShutdownGrace = TimeSpan.FromSeconds(5) };

return await Arbiter.RunAsync(args, settings, (worker, stopping) => behaviour switch
{
    "never-ready" => NeverReadyAsync(worker, stopping),
    "slow-ready" => SlowReadyAsync(worker, TimeSpan.FromMilliseconds(int.Parse(args[1])), stopping),
    "starve" => StarveAsync(worker, stopping),
    "deadlock" => DeadlockAsync(worker, stopping),
    "crash" => CrashAsync(worker),
    "alloc" => AllocateAsync(worker, int.Parse(args[1]), stopping),
    "http" => UForkHttp.ServeAsync(worker, app => app.MapGet("/", () => $"hello from worker {worker.WorkerId}"), stopping),
    _ => ServeAsync(worker, stopping),
}, new ArbiterHooks(ChildPreExit: async () =>
{
    if (Environment.GetEnvironmentVariable("UFORK_TEST_PRE_EXIT_DIR") is { } dir)
        await File.WriteAllTextAsync(Path.Combine(dir, $"{Environment.ProcessId}.exited"), "bye");
}));

static void SayReady(WorkerContext worker) =>
    Console.WriteLine($"ready {worker.WorkerId} {worker.Pid} {WorkerEnvironment.CurrentWorkerId}");

static async Task ServeAsync(WorkerContext worker, CancellationToken stopping)
{
    SayReady(worker);
    worker.Ready();
    await Task.Delay(Timeout.Infinite, stopping);
}

static async Task NeverReadyAsync(WorkerContext worker, CancellationToken stopping)
{
    Console.WriteLine($"running {worker.WorkerId} {worker.Pid}");
    await Task.Delay(Timeout.Infinite, stopping);
}

static async Task SlowReadyAsync(WorkerContext worker, TimeSpan delay, CancellationToken stopping)
{
    Console.WriteLine($"running {worker.WorkerId} {worker.Pid}");
    await Task.Delay(delay, stopping);
    var callers = Enumerable.Range(0, 4).Select(_ => new Thread(worker.Ready)).ToList();
    callers.ForEach(thread => thread.Start());
    callers.ForEach(thread => thread.Join());
    SayReady(worker);
    await Task.Delay(Timeout.Infinite, stopping);
}

// Queued on the pool's global queue, behind which every later timer tick waits; the pool adds a thread
// or two a second while starved, and each takes the next blocker, so 10,000 outlast any test.
static async Task StarveAsync(WorkerContext worker, CancellationToken stopping)
{
    SayReady(worker);
    worker.Ready();
    await Task.Delay(TimeSpan.FromSeconds(1), stopping);
    Console.WriteLine("starving");
    for (var i = 0; i < 10_000; i++)
        ThreadPool.QueueUserWorkItem(_ => stopping.WaitHandle.WaitOne());
    await Task.Delay(Timeout.Infinite, stopping);
}

static async Task DeadlockAsync(WorkerContext worker, CancellationToken stopping)
{
    var first = new object();
    var second = new object();
    worker.HealthProbe = () =>
    {
        lock (first)
        lock (second)
            return true;
    };
    SayReady(worker);
    worker.Ready();
    await Task.Delay(TimeSpan.FromSeconds(1), stopping);
    using var bothHeld = new Barrier(2);
    void Take(object mine, object theirs)
    {
        lock (mine)
        {
            bothHeld.SignalAndWait();
            lock (theirs)
            {
            }
        }
    }
    new Thread(() => Take(first, second)) { IsBackground = true }.Start();
    new Thread(() => Take(second, first)) { IsBackground = true }.Start();
    Console.WriteLine("deadlocked");
    await Task.Delay(Timeout.Infinite, stopping);
}

static Task CrashAsync(WorkerContext worker)
{
    SayReady(worker);
    throw new InvalidOperationException("crashing on purpose");
}

static async Task AllocateAsync(WorkerContext worker, int megabytes, CancellationToken stopping)
{
    SayReady(worker);
    var hoard = new byte[megabytes][];
    for (var i = 0; i < megabytes; i++)
        Array.Fill(hoard[i] = new byte[1 << 20], (byte)1);
    worker.Ready();
    await Task.Delay(Timeout.Infinite, stopping);
    GC.KeepAlive(hoard);
}
