using System.CommandLine;
using UFork.Host.Commands;

// Idle pool threads spin before they sleep. An arbiter is woken by scattered small events (timer ticks,
// heartbeats, exits) and would spend most of its idle CPU spinning; workers share the machine's cores
// with each other, and one worker's spinning threads take the CPU another needs (ufork serve -w 2 on 2
// cores: 0.91 of one Kestrel process's throughput with spinning, 0.99 without). Read when the pool first
// starts, so it is set before anything runs on it.
AppContext.SetData("System.Threading.ThreadPool.UnfairSemaphoreSpinLimit", 0);

if (!OperatingSystem.IsLinux())
{
    Console.Error.WriteLine("ufork: uFork.NET runs on Linux only (it needs posix_spawn, pidfds and process groups)");
    return 2;
}

var root = new RootCommand("uFork.NET: a pre-fork worker supervisor for .NET")
{
    RunCommand.Create(),
    WorkerEntryPointCommand.Create(),
    CtlCommand.Create(),
    ServeCommand.Create(args),
};
return await CommandLineErrors.InvokeAsync(root, args);
