using System.Reflection;
using System.Runtime.Loader;
using UFork.Worker;

namespace UFork.Runtime;

/// <summary>
/// Inside a worker started by <see cref="WorkerCommand.EntryPoint"/>: the named static method of a
/// compiled assembly, as the post-fork function. Its dependencies resolve from its own folder and deps.json.
/// </summary>
public static class WorkerEntryPoint
{
    public static Func<WorkerContext, CancellationToken, Task> Load(string assemblyPath, string typeName, string methodName)
    {
        var path = Path.GetFullPath(assemblyPath);
        if (!File.Exists(path))
            throw new WorkerCommandException($"{assemblyPath} does not exist");
        var resolver = new AssemblyDependencyResolver(path);
        AssemblyLoadContext.Default.Resolving += (context, name) =>
            resolver.ResolveAssemblyToPath(name) is { } dependency ? context.LoadFromAssemblyPath(dependency) : null;
        Assembly assembly;
        try
        {
            assembly = AssemblyLoadContext.Default.LoadFromAssemblyPath(path);
        }
        catch (BadImageFormatException)
        {
            throw new WorkerCommandException($"{assemblyPath} is not a .NET assembly");
        }
        var type = assembly.GetType(typeName)
                   ?? throw new WorkerCommandException($"{assemblyPath} has no type {typeName}");
        var method = type.GetMethod(methodName, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static,
            [typeof(WorkerContext), typeof(CancellationToken)]);
        if (method is null || method.ReturnType != typeof(Task))
            throw new WorkerCommandException($"{typeName} has no static Task {methodName}(WorkerContext, CancellationToken)");
        return method.CreateDelegate<Func<WorkerContext, CancellationToken, Task>>();
    }
}
