namespace MsSwift.Inference.Extensions;

internal static class Extensions
{
    /// <summary>Inference reads model events and async requests from Kafka and shares state in Redis.</summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddKafka();
        builder.AddRedis();
    }
}
