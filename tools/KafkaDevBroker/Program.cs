using System.Net;
using MsSwift.Contracts;
using MsSwift.KafkaDevBroker;

// A Kafka-protocol broker for development and tests, in one small process: librdkafka's mock
// cluster behind a fixed port, with the product's topics created. Data lives in memory only.
//   --port N         listen here (default: PORT, else 9092; 0 picks a free port)
//   --partitions N   partitions per topic (default 4)
//   --topic NAME     extra topic to create (repeatable); the product's topics always exist
var options = BrokerOptions.Parse(args, Environment.GetEnvironmentVariable("PORT"));
if (options.Error is not null)
{
    Console.Error.WriteLine($"kafka-dev-broker: {options.Error}");
    return 2;
}

using var cluster = MockCluster.Start(brokers: 1);
foreach (var topic in KafkaTopics.All.Concat(options.ExtraTopics).Distinct())
{
    cluster.CreateTopic(topic, options.Partitions);
}

var mockEndpoint = IPEndPoint.Parse(cluster.Bootstraps.Split(',')[0]);
await using var forwarder = new TcpForwarder(new IPEndPoint(IPAddress.Loopback, options.Port), mockEndpoint);
forwarder.Start();
var port = forwarder.LocalEndpoint.Port;
cluster.Advertise(brokerId: 1, "127.0.0.1", port);

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();

// Tests and scripts read this line to learn the address.
Console.WriteLine($"kafka-dev-broker listening on 127.0.0.1:{port} with topics {string.Join(", ", KafkaTopics.All.Concat(options.ExtraTopics).Distinct())}");
Console.Out.Flush();
await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
return 0;
