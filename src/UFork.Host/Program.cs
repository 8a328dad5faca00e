using System.CommandLine;
using UFork.Host.Commands;

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
