using Xunit;

namespace UFork.Tests.Spawning;

/// <summary>
/// Tests that squeeze the process's file descriptors or make it a subreaper change the whole test process,
/// so they run alone, after everything else.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SpawningCollection
{
    public const string Name = "spawning (process-wide state)";
}
