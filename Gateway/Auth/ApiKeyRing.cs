using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Frozen;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;
using MsSwift.Gateway.RateLimiting;

namespace MsSwift.Gateway.Auth;

/// <summary>
/// The configured API keys, held as SHA-256 digests: a presented key is hashed and looked up, so
/// lookups take the same time whatever the key and the plain keys are not kept in memory. Each key's
/// principal (its scopes and name) is built once, at the first lookup, and shared by its requests:
/// nothing downstream changes it.
/// </summary>
internal sealed class ApiKeyRing(IOptions<GatewayOptions> options) : IDisposable
{
    // Longer keys are hashed from a rented buffer; every configured key fits the stack.
    private const int StackBytes = 256;

    private readonly Lazy<FrozenDictionary<Digest, Caller>> _byDigest = new(() =>
        options.Value.ApiKeys.ToFrozenDictionary(key => Digest.Of(key.Key), key => new Caller(key)));

    /// <summary>The caller that <paramref name="presented"/> belongs to, or null when it is not a configured key.</summary>
    public Caller? Find(ReadOnlySpan<char> presented) =>
        presented.IsEmpty ? null : _byDigest.Value.GetValueOrDefault(Digest.Of(presented));

    public void Dispose()
    {
        if (_byDigest.IsValueCreated)
        {
            foreach (var caller in _byDigest.Value.Values)
            {
                caller.Limiter.Dispose();
            }
        }
    }

    /// <summary>One configured key, ready to be the request's user, with its rate limit (per gateway replica).</summary>
    internal sealed class Caller
    {
        public Caller(ApiKeyOptions key)
        {
            Options = key;
            Limiter = new TokenBucketRateLimiter(TokenBuckets.Options(key.RequestsPerSecond, key.Burst));
            var claims = key.Scopes.Select(scope => new Claim(Scopes.ClaimType, scope)).Append(new Claim(ApiKeyAccess.CallerNameClaim, key.Name));
            Principal = new ScopedPrincipal(new CallerIdentity(claims, ApiKeyAccess.SchemeName, key.Name), key.Scopes);
        }

        public ApiKeyOptions Options { get; }

        public ScopedPrincipal Principal { get; }

        /// <summary>The key's token bucket: <see cref="ApiKeyOptions.RequestsPerSecond"/> refill, <see cref="ApiKeyOptions.Burst"/> at once.</summary>
        public TokenBucketRateLimiter Limiter { get; }
    }

    /// <summary>A SHA-256 digest as a dictionary key, without a string per lookup.</summary>
    private readonly record struct Digest(ulong A, ulong B, ulong C, ulong D)
    {
        public static Digest Of(ReadOnlySpan<char> key)
        {
            var length = Encoding.UTF8.GetMaxByteCount(key.Length);
            var rented = length > StackBytes ? ArrayPool<byte>.Shared.Rent(length) : null;
            try
            {
                Span<byte> utf8 = rented ?? stackalloc byte[StackBytes];
                var written = Encoding.UTF8.GetBytes(key, utf8);
                Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
                SHA256.HashData(utf8[..written], hash);
                return new Digest(
                    BinaryPrimitives.ReadUInt64LittleEndian(hash), BinaryPrimitives.ReadUInt64LittleEndian(hash[8..]),
                    BinaryPrimitives.ReadUInt64LittleEndian(hash[16..]), BinaryPrimitives.ReadUInt64LittleEndian(hash[24..]));
            }
            finally
            {
                if (rented is not null)
                {
                    ArrayPool<byte>.Shared.Return(rented);
                }
            }
        }
    }
}
