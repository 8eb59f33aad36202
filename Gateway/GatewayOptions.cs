using Microsoft.Extensions.Options;

namespace MsSwift.Gateway;

/// <summary>Settings of section <c>Gateway</c>.</summary>
public sealed class GatewayOptions
{
    public const string SectionName = "Gateway";

    /// <summary>Who may call, with what scopes and rate. In Kubernetes these come from a Secret.</summary>
    public List<ApiKeyOptions> ApiKeys { get; set; } = [];

    /// <summary>Largest request body accepted; larger ones get 413 (gRPC: RESOURCE_EXHAUSTED). Default 4 MiB.</summary>
    public long MaxRequestBodyBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>How often the canary table is re-read from the registry.</summary>
    public double CanaryRefreshSeconds { get; set; } = 2;

    /// <summary>How many keys that are not valid one client address may present (bounds key guessing).</summary>
    public InvalidKeyLimitOptions InvalidKeyLimit { get; set; } = new();

    /// <summary>
    /// Host names of destinations that stand for every replica of a service (a Kubernetes headless
    /// Service, whose name resolves to each ready pod's address): each is resolved, and re-resolved
    /// every <see cref="ReplicaRefreshSeconds"/>, to one destination per address, so the gateway
    /// balances and health-checks replicas itself instead of pinning one HTTP/2 connection to one pod.
    /// </summary>
    public List<string> ReplicaHostNames { get; set; } = [];

    /// <summary>How often <see cref="ReplicaHostNames"/> are resolved again (new and departed replicas).</summary>
    public double ReplicaRefreshSeconds { get; set; } = 5;
}

/// <summary>
/// A token bucket per client address, per gateway replica, spent by each request whose key is not
/// valid. While it is empty, every request from that address that presents a key is answered 429
/// without the key being checked, so a guess that happens to be right is not confirmed either.
/// </summary>
public sealed class InvalidKeyLimitOptions
{
    /// <summary>Invalid keys per second an address may present, sustained (bucket refill).</summary>
    public double PerSecond { get; set; } = 1;

    /// <summary>Invalid keys an address may present at once before the limit applies.</summary>
    public int Burst { get; set; } = 10;
}

public sealed class ApiKeyOptions
{
    /// <summary>Shown in logs, metrics and the <c>x-msswift-caller</c> header; never the key itself.</summary>
    public string Name { get; set; } = "";

    /// <summary>The secret a caller sends as <c>Authorization: Bearer &lt;key&gt;</c> or <c>x-api-key</c>.</summary>
    public string Key { get; set; } = "";

    /// <summary>Any of <see cref="Auth.Scopes.All"/>; <c>admin</c> implies the others.</summary>
    public List<string> Scopes { get; set; } = [];

    /// <summary>Sustained requests per second (token bucket refill), per gateway replica.</summary>
    public double RequestsPerSecond { get; set; } = 100;

    /// <summary>Requests that may arrive at once above the sustained rate.</summary>
    public int Burst { get; set; } = 200;
}

internal sealed class GatewayOptionsValidator : IValidateOptions<GatewayOptions>
{
    private const int MinimumKeyLength = 16;

    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        var section = GatewayOptions.SectionName;
        var failures = new List<string>();
        if (options.ApiKeys.Count == 0)
        {
            failures.Add($"{section}:ApiKeys is empty: every request would be refused; configure at least one key (the AppHost creates a development key)");
        }

        for (var i = 0; i < options.ApiKeys.Count; i++)
        {
            var key = options.ApiKeys[i];
            var at = $"{section}:ApiKeys:{i}";
            if (string.IsNullOrWhiteSpace(key.Name))
            {
                failures.Add($"{at}:Name is missing");
            }
            else if (key.Name.Contains('/', StringComparison.Ordinal))
            {
                // Async request ids are scoped as {key name}/{id}: a '/' in a name would let one key's ids collide with another's.
                failures.Add($"{at}:Name must not contain '/', got '{key.Name}'");
            }

            if (key.Key.Length < MinimumKeyLength)
            {
                failures.Add($"{at}:Key must be at least {MinimumKeyLength} characters");
            }

            if (key.Scopes.Count == 0 || key.Scopes.Except(Auth.Scopes.All).Any())
            {
                failures.Add($"{at}:Scopes must list some of {string.Join(", ", Auth.Scopes.All)}; got [{string.Join(", ", key.Scopes)}]");
            }

            if (key.RequestsPerSecond <= 0 || key.Burst < 1)
            {
                failures.Add($"{at}: RequestsPerSecond must be positive and Burst at least 1");
            }
        }

        foreach (var duplicate in options.ApiKeys.GroupBy(key => key.Name).Where(group => group.Count() > 1))
        {
            failures.Add($"{section}:ApiKeys has the name '{duplicate.Key}' more than once");
        }

        // A presented key must identify one caller (its scopes, its rate); the secret itself is never printed.
        var sharedSecrets = options.ApiKeys.Select((key, index) => (key, index))
            .Where(entry => entry.key.Key.Length > 0)
            .GroupBy(entry => entry.key.Key, StringComparer.Ordinal)
            .Where(group => group.Count() > 1);
        foreach (var shared in sharedSecrets)
        {
            var holders = string.Join(" and ", shared.Select(entry => $"{section}:ApiKeys:{entry.index} ('{entry.key.Name}')"));
            failures.Add($"{holders} have the same Key; every API key needs its own secret");
        }

        if (options.ReplicaRefreshSeconds < 0.5)
        {
            failures.Add($"{section}:ReplicaRefreshSeconds must be at least 0.5, got {options.ReplicaRefreshSeconds}");
        }

        if (options.MaxRequestBodyBytes < 1024)
        {
            failures.Add($"{section}:MaxRequestBodyBytes must be at least 1024, got {options.MaxRequestBodyBytes}");
        }

        if (options.InvalidKeyLimit.PerSecond <= 0 || options.InvalidKeyLimit.Burst < 1)
        {
            failures.Add($"{section}:InvalidKeyLimit: PerSecond must be positive and Burst at least 1, got {options.InvalidKeyLimit.PerSecond} and {options.InvalidKeyLimit.Burst}");
        }

        if (options.CanaryRefreshSeconds <= 0)
        {
            failures.Add($"{section}:CanaryRefreshSeconds must be positive, got {options.CanaryRefreshSeconds}");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
