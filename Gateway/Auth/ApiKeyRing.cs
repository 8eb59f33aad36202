using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace MsSwift.Gateway.Auth;

/// <summary>
/// The configured API keys, held as SHA-256 digests: a presented key is hashed and looked up, so
/// lookups take the same time whatever the key and the plain keys are not kept in memory.
/// </summary>
internal sealed class ApiKeyRing(IOptions<GatewayOptions> options)
{
    private readonly Lazy<Dictionary<string, ApiKeyOptions>> _byDigest = new(() =>
        options.Value.ApiKeys.ToDictionary(key => Digest(key.Key), StringComparer.Ordinal));

    public ApiKeyOptions? Find(string presented) =>
        presented.Length == 0 ? null : _byDigest.Value.GetValueOrDefault(Digest(presented));

    private static string Digest(string key) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
}
