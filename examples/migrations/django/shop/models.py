from django.db import models


class Customer(models.Model):
    name = models.CharField(max_length=200)
    email = models.EmailField(unique=True)
    state = models.CharField(max_length=2)
    mobile = models.CharField(max_length=30, null=True)


class Order(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT)
    shipping_name = models.CharField(max_length=200)
    placed_at = models.DateTimeField()


class Invoice(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT)
    number = models.CharField(max_length=20, unique=True)
    total = models.DecimalField(max_digits=10, decimal_places=2)
    paid = models.BooleanField(default=False)
