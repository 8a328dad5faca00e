using Xunit;

namespace UFork.Host.Tests.Http;

/// <summary>
/// The HTTP tests start arbiters and put load on them; they run one at a time and apart from other
/// tests so that two cores are enough for their timing.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HttpProcesses
{
    public const string Name = "http processes";
}
