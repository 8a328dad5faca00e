using UFork.Configuration;
using UFork.Hosting;
using UFork.Runtime;
using UFork.Worker;

// usage: UFork.TestWorker <behaviour> [workers]
//   serve       print "ready <slot> <pid>", then wait to be stopped
//   crash       print "ready ...", then throw (exit EX_SOFTWARE)
//   alloc MB    print "ready ...", then allocate and touch MB megabytes, and wait
//   interactive DLL TYPE   be a REPL: Arbiter.RunInteractiveAsync over 2 workers of DLL's TYPE.Run, then,
//                          back from it, read one line from stdin and print it
// UFORK_TEST_PRE_EXIT_DIR, when set, makes the child-pre-exit hook write <dir>/<pid>.exited.
var behaviour = args.ElementAtOrDefault(0) ?? "serve";
if (behaviour == "interactive")
{
    var code = await Arbiter.RunInteractiveAsync(WorkerCommand.EntryPoint(args[1], args[2]), UForkSettings.Default with { Workers = 2 });
    Console.WriteLine($"back at the REPL, arbiter exit code {code}");
    Console.WriteLine($"read: {Console.ReadLine()}");
    return 0;
}
var workers = behaviour == "serve" && int.TryParse(args.ElementAtOrDefault(1), out var n) ? n : 2;
var allocate = behaviour == "alloc" ? int.Parse(args[1]) : 0;
var settings = UForkSettings.Default with { Workers = workers, ShutdownGrace = TimeSpan.FromSeconds(5) };

return await Arbiter.RunAsync(args, settings, async (worker, stopping) =>
{
    Console.WriteLine($"ready {worker.WorkerId} {worker.Pid} {WorkerEnvironment.CurrentWorkerId}");
    if (behaviour == "crash")
        throw new InvalidOperationException("crashing on purpose");
    var hoard = new byte[allocate][];
    for (var i = 0; i < allocate; i++)
        Array.Fill(hoard[i] = new byte[1 << 20], (byte)1);
    await Task.Delay(Timeout.Infinite, stopping);
}, new ArbiterHooks(ChildPreExit: async () =>
{
    if (Environment.GetEnvironmentVariable("UFORK_TEST_PRE_EXIT_DIR") is { } dir)
        await File.WriteAllTextAsync(Path.Combine(dir, $"{Environment.ProcessId}.exited"), "bye");
}));
