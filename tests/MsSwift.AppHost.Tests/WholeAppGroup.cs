namespace MsSwift.AppHost.Tests;

/// <summary>Tests that start processes from the AppHost run one at a time: 2 cores, and shared ports.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class WholeAppGroup
{
    public const string Name = "Whole app";
}
