<?php
// A MySQL client with server-side prepared statements (COM_STMT_PREPARE and
// COM_STMT_EXECUTE): PHP's PDO on mysqlnd, over TLS.  For the protocol tests.
//   php my_prepared.php PORT CAFILE USER PASSWORD
[$_, $port, $ca, $user, $pw] = $argv;
$db = new PDO("mysql:host=127.0.0.1;port=$port;dbname=shop", $user, $pw, [
	PDO::MYSQL_ATTR_SSL_CA => $ca,
	PDO::MYSQL_ATTR_SSL_VERIFY_SERVER_CERT => false,
	PDO::ATTR_EMULATE_PREPARES => false,
	PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
]);
$st = $db->prepare("SELECT ? + 1 AS n, ? AS s");
$st->execute([41, "php"]);
echo json_encode($st->fetchAll(PDO::FETCH_ASSOC)), "\n";
echo json_encode($db->query("SHOW STATUS LIKE 'Ssl_cipher'")->fetch(PDO::FETCH_NUM)), "\n";
