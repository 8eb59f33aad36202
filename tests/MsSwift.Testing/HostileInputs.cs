using System.Text;
using Grpc.Core;
using Grpc.Net.Client;

namespace MsSwift.Testing;

/// <summary>The inputs the hostile-input tests feed every public endpoint, and a raw gRPC call to send any bytes as a message.</summary>
public static class HostileInputs
{
    /// <summary>JSON (and not-quite-JSON) bodies that no endpoint should take.</summary>
    public static readonly string[] JunkBodies =
        ["", "{", "}", "null", "[]", "\"text\"", "42", "{\"prompt\":", "{\"prompt\": \"a\",}", "{'prompt': 'a'}", new string('[', 10_000)];

    /// <summary>Numbers where a number is expected: out of range, not finite, subnormal, or not numbers at all.</summary>
    public static readonly string[] Numbers =
    [
        "-1", "0", "1e308", "1e309", "-1e309", "4.9e-324", "-4.9e-324", "2147483648", "-2147483649", "9223372036854775808",
        "\"NaN\"", "\"Infinity\"", "NaN", "Infinity", "\"1\"", "true", "null", "[]", "{}", "1.5", "-0",
    ];

    /// <summary>Names (of models, versions, datasets) that must be refused or not found, never crash a lookup.</summary>
    public static readonly string[] Names = ["fuzz-nope", "a%0Ab", "%2e%2e", new string('x', 300), "-leading", "tiny%00", "%ff%fe", "..", "a b"];

    /// <summary>JSON with invalid UTF-8 bytes inside a string.</summary>
    public static byte[] InvalidUtf8Json(string field) => [.. Encoding.UTF8.GetBytes($"{{\"{field}\": \""), 0xff, 0xfe, 0xc3, 0x28, .. "\"}"u8];

    /// <summary>Seeded random byte strings of the given sizes, <paramref name="each"/> of each size.</summary>
    public static IEnumerable<byte[]> RandomBytes(IEnumerable<int> sizes, int each, int seed = 20261201)
    {
        var random = new Random(seed);
        foreach (var size in sizes)
        {
            for (var i = 0; i < each; i++)
            {
                var bytes = new byte[size];
                random.NextBytes(bytes);
                yield return bytes;
            }
        }
    }

    /// <summary>Sends <paramref name="message"/> as the request of a unary or server-streaming method and reads the whole answer.</summary>
    public static async Task CallRawAsync(GrpcChannel channel, string service, string method, MethodType type, byte[] message, Metadata? headers = null)
    {
        var bytes = Marshallers.Create(static (byte[] value) => value, static value => value);
        var descriptor = new Method<byte[], byte[]>(type, service, method, bytes, bytes);
        var options = new CallOptions(headers, DateTime.UtcNow.AddSeconds(30));
        if (type == MethodType.Unary)
        {
            await channel.CreateCallInvoker().AsyncUnaryCall(descriptor, null, options, message);
            return;
        }

        using var call = channel.CreateCallInvoker().AsyncServerStreamingCall(descriptor, null, options, message);
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
        {
        }
    }
}
