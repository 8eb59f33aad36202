using System.Security.Cryptography;

namespace MsSwift.ServiceDefaults;

/// <summary>
/// Unguessable ids for requests and responses: 128 random bits as 32 lowercase hex digits, the
/// format of <c>Guid.ToString("N")</c>. <see cref="Guid.NewGuid"/> reads /dev/urandom for every id
/// on Linux (strace: one <c>read</c> system call per request through the gateway), and one call to
/// the cryptographic generator per id cost more still (OpenSSL's per-call overhead: 3.8 % of the
/// gateway's CPU samples), so each thread draws 256 ids' worth of bits at a time.
/// </summary>
public static class RandomIds
{
    private const int IdBytes = 16;
    private const int BufferBytes = 256 * IdBytes;

    [ThreadStatic]
    private static byte[]? t_bits;

    [ThreadStatic]
    private static int t_used;

    public static string New()
    {
        if (t_bits is null || t_used == BufferBytes)
        {
            t_bits ??= new byte[BufferBytes];
            RandomNumberGenerator.Fill(t_bits);
            t_used = 0;
        }

        var id = Convert.ToHexStringLower(t_bits.AsSpan(t_used, IdBytes));
        t_used += IdBytes;
        return id;
    }
}
