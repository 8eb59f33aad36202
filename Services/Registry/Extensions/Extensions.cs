namespace MsSwift.Registry.Extensions;

internal static class Extensions
{
    /// <summary>The registry keeps model metadata in Redis and publishes model events to Kafka.</summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddKafka();
        builder.AddRedis();
    }
}
