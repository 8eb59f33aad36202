namespace MsSwift.Inference.Tests;

/// <summary>One inference server shared by the tests of a class; it is ready before they run.</summary>
public sealed class InferenceServerFixture : IAsyncLifetime
{
    public InferenceServer Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await InferenceServer.StartAsync();
        var ready = await Server.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        if (!ready.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"inference never became ready: {await ready.Content.ReadAsStringAsync()}{Environment.NewLine}{Server.Output}");
        }
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class InferenceServerGroup : ICollectionFixture<InferenceServerFixture>
{
    public const string Name = "Inference server";
}
