using System.CommandLine;
using UFork.Host.Commands;

// An arbiter is woken by scattered small events (timer ticks, heartbeats, exits). After each, idle pool
// threads would spin before sleeping: most of an idle arbiter's CPU. Read when the pool first starts, so
// it is set before anything runs on it; workers (this same program, started again) keep the default.
if (Environment.GetEnvironmentVariable(UFork.Runtime.WorkerEnvironment.WorkerId) is null)
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
